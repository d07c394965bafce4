// root.ts - root-only suites: skipped without root locally, but with CI=true
// they must run, so a missing privilege fails loudly instead of skipping.
export const isRoot = process.getuid?.() === 0;
export const mustRun = process.env.CI === 'true';
export const skipUnlessRoot = !isRoot && !mustRun;
