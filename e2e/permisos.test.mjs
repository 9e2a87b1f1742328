// The citizen's and the police officer's flows in headless Chromium (Debian's), through the
// local topology: nginx routing formulario.localhost and validar.localhost by Host header.
// Every page is screenshotted at 375 px and desktop width and scanned with axe-core.
//
// Run by scripts/e2e.sh (`make e2e`), which starts the topology and seeds two permits.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';
import jsQR from 'jsqr';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const ISSUER = process.env.ISSUER_URL;
const VALIDATOR = process.env.VALIDATOR_URL;
const SEEDED = JSON.parse(process.env.SEEDED_PERMITS);
const ARTIFACTS = process.env.ARTIFACTS;
const SIZES = { mobile: { width: 375, height: 812 }, desktop: { width: 1280, height: 900 } };

let browser;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // No sandbox as root; no background traffic on a closed network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => browser?.close());

async function newPage({ javaScriptEnabled = true } = {}) {
  const context = await browser.newContext({ viewport: SIZES.mobile, locale: 'es-CL', javaScriptEnabled });
  return context.newPage();
}

/** Screenshots at both widths, then no serious or critical axe-core violation. */
async function audit(page, name) {
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

async function fillForm(page, fields) {
  for (const [name, value] of Object.entries(fields)) {
    if (name === 'motive') await page.selectOption('#motive', value);
    else await page.fill(`#${name}`, value);
  }
  await page.click('button[type=submit]');
}

const citizen = (rut) => ({
  name: 'Juana Pérez Soto', rut, motive: 'compras', address: 'Av. Grecia 1234', comuna: 'Ñuñoa',
});

test('a citizen gets a permit and its QR code leads to VIGENTE', async () => {
  const page = await newPage();
  await page.goto(`${ISSUER}/`);
  await audit(page, '01-landing');
  await page.click('text=Solicitar un permiso');
  assert.equal(new URL(page.url()).pathname, '/nuevo');
  await audit(page, '02-form');

  await fillForm(page, citizen('12.345.678-9'));
  assert.match(await page.textContent('#rut-error'), /dígito verificador no corresponde/);
  assert.equal(await page.inputValue('#name'), 'Juana Pérez Soto');
  assert.equal(await page.inputValue('#motive'), 'compras');
  assert.equal(await page.getAttribute('#rut', 'aria-invalid'), 'true');
  await audit(page, '03-form-invalid');

  await page.fill('#rut', '12.345.678-5');
  await page.click('button[type=submit]');
  assert.match(new URL(page.url()).pathname, /^\/permiso\/[A-Za-z0-9_-]{22}$/);
  await audit(page, '04-permit');

  const link = await page.getAttribute('a.code', 'href');
  const png = PNG.sync.read(await page.locator('svg.qr').screenshot());
  const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  assert.ok(decoded, 'the QR code decodes');
  assert.equal(decoded.data, link);
  assert.equal(link, `${VALIDATOR}/validar/${page.url().split('/').pop()}`);

  await page.goto(decoded.data);
  assert.equal((await page.textContent('.status .label')).trim(), 'VIGENTE');
  const facts = await page.textContent('dl.facts');
  assert.match(facts, /J\*{4} P\*{4} S\*{3}/);
  assert.match(facts, /12\.\*{3}\.\*{3}-5/);
  assert.doesNotMatch(facts, /Juana|12\.345\.678/);
  await audit(page, '05-validation-valid');
});

test('unknown, expired and not-yet-valid permits each show their status', async () => {
  const page = await newPage();
  await page.goto(`${VALIDATOR}/`);
  await audit(page, '06-validator-home');
  await page.fill('#codigo', 'AAAAAAAAAAAAAAAAAAAAAA');
  await page.click('button[type=submit]');
  assert.equal((await page.textContent('.status .label')).trim(), 'NO ENCONTRADO');
  await audit(page, '07-validation-not-found');

  await page.goto(`${VALIDATOR}/validar/${SEEDED.expired}`);
  assert.equal((await page.textContent('.status .label')).trim(), 'EXPIRADO');
  await audit(page, '08-validation-expired');

  await page.goto(`${VALIDATOR}/validar/${SEEDED.not_yet_valid}`);
  assert.equal((await page.textContent('.status .label')).trim(), 'AÚN NO VIGENTE');
  await audit(page, '09-validation-not-yet-valid');
});

test('the third permit of the week is refused, saying when the next is possible', async () => {
  const page = await newPage();
  for (const motive of ['compras', 'banco']) {
    await page.goto(`${ISSUER}/nuevo`);
    await fillForm(page, { ...citizen('9.876.543-3'), motive });
    assert.match(new URL(page.url()).pathname, /^\/permiso\//);
  }
  await page.goto(`${ISSUER}/nuevo`);
  await fillForm(page, citizen('9.876.543-3'));
  const alert = await page.textContent('[role=alert]');
  assert.match(alert, /Ya usaste 2 de 2 permisos de esta semana\. Podrás solicitar otro desde el lunes/);
  await audit(page, '10-form-weekly-limit');
});

test('the form and the permit page work with JavaScript off', async () => {
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(`${ISSUER}/nuevo`);
  await fillForm(page, citizen('15.555.555-6'));
  assert.match(new URL(page.url()).pathname, /^\/permiso\//);
  assert.ok(await page.locator('svg.qr').isVisible());
  for (const [label, size] of Object.entries(SIZES)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: `${ARTIFACTS}/11-permit-no-javascript-${label}.png`, fullPage: true });
  }
});
