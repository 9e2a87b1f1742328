// Sign-in as with ClaveÚnica, in headless Chromium through a local topology whose issuers
// run with CITIZEN_AUTH=oidc and the test identity provider (identity/provider.mjs, panva's
// oidc-provider with citizens in ClaveÚnica's shape).
//
// Run by scripts/e2e.sh, after the other browser tests, on a topology of its own.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { SIZES, audit, launch } from './browser.mjs';

const ISSUER = process.env.ISSUER_URL;
let browser;

before(async () => {
  mkdirSync(process.env.ARTIFACTS, { recursive: true });
  browser = await launch();
});

after(async () => browser?.close());

/** A citizen in a browser of their own, signed in at the provider as `run`. */
async function signedIn(run, screenshots) {
  const context = await browser.newContext({ viewport: SIZES.mobile, locale: 'es-CL' });
  const page = await context.newPage();
  await page.goto(`${ISSUER}/nuevo`);
  if (screenshots) await audit(page, '20-sign-in-asked');
  await page.click('text=Ingresar con ClaveÚnica');
  await page.fill('input[name=login]', run);
  await page.fill('input[name=password]', 'cualquiera');
  await page.click('button[type=submit]');
  await page.click('button[type=submit]'); // the provider's consent
  await page.waitForURL(`${ISSUER}/nuevo`);
  return page;
}

test('a signed-in citizen gets a permit in their own name, and another citizen cannot open it', async () => {
  const maria = await signedIn('12345678-5', true);
  const form = await maria.textContent('main');
  assert.match(form, /María José González Pérez/);
  assert.match(form, /12\.345\.678-5/);
  assert.equal(await maria.locator('#rut').count(), 0, 'no RUT to type');
  assert.equal(await maria.locator('#name').count(), 0, 'no name to type');
  assert.doesNotMatch(await maria.content(), /Modo demostración/);
  await audit(maria, '21-form-signed-in');

  await maria.selectOption('#motive', 'compras');
  await maria.fill('#address', 'Av. Grecia 1234');
  await maria.fill('#comuna', 'Ñuñoa');
  await maria.click('form[action="/nuevo"] button[type=submit]');
  await maria.waitForURL(/\/permiso\/[A-Za-z0-9_-]{22}\?clave=/);
  const permit = await maria.textContent('main');
  assert.match(permit, /María José González Pérez/);
  assert.match(permit, /12\.345\.678-5/);
  await audit(maria, '22-permit-of-the-signed-in-citizen');
  const holderLink = maria.url();

  // Another citizen, signed in too, with the permit's address but not its holder's link.
  const juan = await signedIn('9876543-3', false);
  assert.match(await juan.textContent('main'), /Juan Muñoz Soto/);
  await juan.goto(holderLink.split('?')[0]);
  const seen = await juan.textContent('main');
  assert.match(seen, /M\. J\. G\. P\./);
  assert.doesNotMatch(seen, /María|González|12\.345\.678|Grecia/);

  // Signing out ends the session: the form asks to sign in again.
  await maria.goto(`${ISSUER}/nuevo`);
  await maria.click('text=Salir');
  await maria.goto(`${ISSUER}/nuevo`);
  assert.equal(await maria.locator('text=Ingresar con ClaveÚnica').count(), 1);
});
