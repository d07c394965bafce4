// browser.ts - the real headless Chromium the dashboard tests drive: Debian's
// chromium (installed by scripts/install-system-deps.sh), controlled by
// playwright-core, never a browser playwright downloads. A fresh profile
// directory per launch; removed on close.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launch(opts: { colorScheme?: 'light' | 'dark' } = {}): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (bash scripts/install-system-deps.sh as root)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'macebpf-chromium-'));
  // launchPersistentContext is how playwright takes a --user-data-dir of our own
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1400, height: 1000 },
    colorScheme: opts.colorScheme ?? 'light',
    acceptDownloads: true,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Where screenshots and other artifacts of the browser tests go (gitignored). */
export const ARTIFACTS = path.resolve(__dirname, '../../artifacts/browser');
