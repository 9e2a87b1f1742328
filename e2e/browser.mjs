// What the browser test files share: Debian's Chromium, headless, and the audit every page
// gets (screenshots at 375 px and desktop width, then axe-core).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const ARTIFACTS = process.env.ARTIFACTS;
export const SIZES = { mobile: { width: 375, height: 812 }, desktop: { width: 1280, height: 900 } };

// No sandbox as root; no background traffic on a closed network.
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launch(extraArgs = []) {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: [...ARGS, ...extraArgs] });
}

/** Screenshots at both widths, then no serious or critical axe-core violation. */
export async function audit(page, name) {
  for (const [label, size] of Object.entries(SIZES)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: `${ARTIFACTS}/${name}-${label}.png`, fullPage: true });
  }
  await page.setViewportSize(SIZES.mobile);
  // Evaluated through the DevTools protocol, so the pages' strict CSP need not allow it.
  await page.evaluate(AXE);
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const grave = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(grave.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(', ')})`), [], name);
}
