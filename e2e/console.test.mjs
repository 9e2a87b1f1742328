// The operators' console on operadores.localhost, in headless Chromium through the
// sign-in topology (CITIZEN_AUTH=oidc, which signs operators in at the same test identity
// provider; its operators carry a `roles` claim: identity/operators.json). A citizen asks
// for a permit; a consulta operator finds it by RUT, and by comuna and day, with a reason
// and cannot revoke it; a
// revocación operator revokes it with a reason; the consulta operator sees who and why in
// the permit's audit trail; administración makes a token and publishes a phase change
// after its preview. Every page gets the same screenshots and axe-core scan.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { SIZES, audit, launch } from './browser.mjs';

const ISSUER = process.env.ISSUER_URL;
const CONSOLE = process.env.OPERATORS_URL;
const REASON = 'Oficio 1234-2026, Fiscalía Local de Ñuñoa';
let browser;

before(async () => {
  mkdirSync(process.env.ARTIFACTS, { recursive: true });
  browser = await launch();
});

after(async () => browser?.close());

/** `run` signed in at the provider from `start` (whose page has `link`), back at `home`. */
async function signIn(start, link, run, home) {
  const context = await browser.newContext({ viewport: SIZES.mobile, locale: 'es-CL' });
  const page = await context.newPage();
  await page.goto(start);
  await page.click(`text=${link}`);
  await page.fill('input[name=login]', run);
  await page.fill('input[name=password]', 'cualquiera');
  await page.click('button[type=submit]');
  await page.click('button[type=submit]'); // the provider's consent
  await page.waitForURL(home);
  return page;
}

const operator = (run) => signIn(`${CONSOLE}/`, 'Ingresar', run, `${CONSOLE}/`);

test('consulta finds a permit by RUT with a reason, revocación revokes it, and the trail says who and why', async () => {
  const ana = await signIn(`${ISSUER}/nuevo`, 'Ingresar con ClaveÚnica', '15432109-8', `${ISSUER}/nuevo`);
  await ana.selectOption('#motive', 'compras');
  await ana.fill('#address', 'Pasaje Los Aromos 77');
  await ana.fill('#comuna', 'Maipú');
  await ana.click('form[action="/nuevo"] button[type=submit]');
  await ana.waitForURL(/\/permiso\/[A-Za-z0-9_-]{22}\?clave=/);
  const code = new URL(ana.url()).pathname.split('/').pop();

  const carla = await operator('11111111-1');
  assert.match(await carla.textContent('.console-bar'), /Carla Vidal Rojas · roles: consulta/);
  await audit(carla, '30-console-home');
  // Without a reason nothing is searched: the field says why.
  await carla.fill('#buscar-rut', '15.432.109-8');
  await carla.click('form[action="/buscar"] button[type=submit]');
  assert.equal(await carla.getAttribute('#buscar-reason', 'aria-invalid'), 'true');
  assert.match(await carla.textContent('#buscar-reason-error'), /obligatorio/);
  await audit(carla, '31-console-search-without-reason');
  await carla.fill('#buscar-reason', REASON);
  await carla.fill('#buscar-case', 'RIT 99-2026');
  await carla.click('form[action="/buscar"] button[type=submit]');
  assert.match(await carla.textContent('#resultados'), /Permisos encontrados: 1/);
  await audit(carla, '32-console-search-results');
  // The other key: Maipú's permits of today, as Chile counts days, the comuna as typed.
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Santiago' }).format(new Date());
  await carla.fill('#comuna-comuna', 'maipu');
  await carla.fill('#comuna-from', today);
  await carla.fill('#comuna-to', today);
  await carla.fill('#comuna-reason', REASON);
  await carla.click('form[action="/buscar-comuna"] button[type=submit]');
  assert.match(await carla.textContent('#resultados'), /Permisos encontrados/);
  assert.equal(await carla.locator(`a:has-text("${code}")`).count(), 1, 'the new permit, newest first');
  await audit(carla, '32-console-search-by-comuna');
  await carla.click(`a:has-text("${code}")`);
  const record = await carla.textContent('main');
  assert.match(record, /Ana Luisa Rojas/);
  assert.match(record, /15\.432\.109-8/);
  assert.match(record, /Pasaje Los Aromos 77, Maipú/);
  assert.equal(await carla.locator('form[action="/revocar"]').count(), 0, 'consulta cannot revoke');
  await audit(carla, '33-console-record');

  const pedro = await operator('22222222-2');
  assert.equal(await pedro.locator('form[action="/buscar"]').count(), 0, 'revocación does not search by RUT');
  await pedro.fill('#abrir-permit', code);
  await pedro.fill('#abrir-reason', 'Parte 4411, 33ª Comisaría');
  await pedro.click('form[action="/permiso"] button[type=submit]');
  await pedro.fill('#revocar-reason', 'Permiso obtenido con datos falsos');
  await pedro.click('form[action="/revocar"] button[type=submit]');
  await pedro.waitForURL(/\/permiso\?permit=/);
  assert.match(await pedro.textContent('.status'), /REVOCADO/);
  await audit(pedro, '34-console-revoked');

  // Carla opens the record again: the revocation is in its trail, with who and why.
  await carla.reload();
  const entry = async (action) => carla.locator('#trail li', { hasText: action }).first().textContent();
  const revocation = await entry('revoke_permit');
  assert.match(revocation, /Revocó el permiso/);
  assert.match(revocation, /Pedro Lagos Fuentes \([A-Za-z0-9_-]{12}\) \(revocacion\)/);
  assert.match(revocation, /Motivo: Permiso obtenido con datos falsos/);
  assert.match(await entry('read_permit'), /Carla Vidal Rojas \([A-Za-z0-9_-]{12}\) \(consulta\)/);
  assert.doesNotMatch(await carla.textContent('#trail'), /11111111|22222222/, 'operators by pseudonym, not by RUN');

  // Signing out ends the console session.
  await carla.click('.console-bar button[type=submit]');
  await carla.waitForURL(`${CONSOLE}/`);
  assert.equal(await carla.locator('a:has-text("Ingresar")').count(), 1);
});

test('administración lists and makes operators\' tokens, the new one shown once', async () => {
  const ines = await operator('33333333-3');
  await ines.click('a[href="/operadores"]');
  await ines.fill('#token-name', 'Cabo 1° M. Pérez');
  await ines.selectOption('#token-role', 'consulta');
  await ines.click('form[action="/operadores"] button[type=submit]');
  const made = await ines.textContent('main');
  assert.match(made, /Token creado para Cabo 1° M\. Pérez/);
  assert.match(made, /pmt_[A-Za-z0-9_-]{11}_[A-Za-z0-9_-]{43}/);
  await audit(ines, '35-console-tokens');

  // A Paso a Paso change, a month ahead: first its effect, then its publication.
  await ines.goto(`${CONSOLE}/`);
  await ines.click('a[href="/fases"]');
  const ahead = new Date(Date.now() + 30 * 24 * 3600 * 1000).toLocaleDateString('en-CA', { timeZone: 'America/Santiago' });
  await ines.fill('#fase-comuna', 'Puente Alto');
  await ines.selectOption('#fase-phase', 'transicion');
  await ines.fill('#fase-from', ahead);
  await ines.click('text=Ver el efecto');
  assert.match(await ines.textContent('main'), /Puente Alto.*pasa de estar fuera del plan a 2 · Transición/s);
  await audit(ines, '36-console-phase-preview');
  await ines.click('text=Publicar este cambio');
  assert.match(await ines.textContent('[role=status]'), /Puente Alto pasa a Transición/);
  await audit(ines, '37-console-phase-published');
});
