import { defineConfig } from 'vitest/config';

// The suite run inside the qemu guests (npm run test:vm): the root
// integration tests plus the kernel-matrix tests in test/vm (*.vm.ts, which
// the host's `npm test` does not pick up: they need fq and an older kernel).
export default defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts', 'test/vm/**/*.vm.ts'],
    fileParallelism: false,
    // Software emulation (TCG) runs several times slower than the host.
    testTimeout: 600_000,
    hookTimeout: 300_000,
  },
});
