// The citizen's and the police officer's flows in headless Chromium (Debian's), through the
// local topology: nginx routing formulario.localhost and validar.localhost by Host header.
// Every page is screenshotted at 375 px and desktop width and scanned with axe-core.
//
// Run by scripts/e2e.sh (`make e2e`), which starts the topology and seeds two permits. The
// file publishes a Paso a Paso change for Vitacura first, and its last test sees it apply.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { PNG } from 'pngjs';
import jsQR from 'jsqr';
import { SIZES, audit, launch } from './browser.mjs';

const ISSUER = process.env.ISSUER_URL;
const VALIDATOR = process.env.VALIDATOR_URL;
const SEEDED = JSON.parse(process.env.SEEDED_PERMITS);
const ARTIFACTS = process.env.ARTIFACTS;
const OPERATORS = process.env.OPERATORS_URL;
/** The comuna whose phase this file publishes; the other tests' citizens live in Ñuñoa. */
const PHASED = 'Vitacura';

let browser;
/** When Vitacura's published phase takes effect, in Santiago's words. */
let phaseFrom;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launch();
  phaseFrom = await publishPreparacionSoon();
});

after(async () => browser?.close());

async function newPage({ javaScriptEnabled = true } = {}) {
  const context = await browser.newContext({ viewport: SIZES.mobile, locale: 'es-CL', javaScriptEnabled });
  return context.newPage();
}

async function fillForm(page, fields) {
  for (const [name, value] of Object.entries(fields)) {
    if (name === 'motive') await page.selectOption('#motive', value);
    else await page.fill(`#${name}`, value);
  }
  await page.click('button[type=submit]');
}

/** A JSON call to the operators' host through nginx (Node does not resolve *.localhost). */
function operatorCall(method, path, token, body) {
  const target = new URL(path, OPERATORS);
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: '127.0.0.1', port: target.port, path: target.pathname, method,
      headers: { host: target.host, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    }, (response) => {
      let text = '';
      response.on('data', (chunk) => { text += chunk; });
      response.on('end', () => resolve({ status: response.statusCode, body: JSON.parse(text) }));
    });
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

/** Publishes, as a new *administración* operator, that Vitacura goes to Preparación at the
 * start of the minute after next, Santiago time (a change is never for the past). */
async function publishPreparacionSoon() {
  const bootstrap = readFileSync('.run/admin-token', 'utf8').trim();
  const made = await operatorCall('POST', '/api/operators', bootstrap, { name: 'Inés Rojas (e2e)', role: 'administracion', days: 1 });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const at = new Date(Math.ceil(Date.now() / 60000) * 60000 + 60000);
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {
    timeZone: 'America/Santiago', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(at).map((p) => [p.type, p.value]));
  const change = { comuna: PHASED, phase: 'preparacion', from: `${parts.year}-${parts.month}-${parts.day}`, at: `${parts.hour}:${parts.minute}` };
  const published = await operatorCall('POST', '/api/phases', made.body.token, change);
  assert.equal(published.status, 201, JSON.stringify(published.body));
  return published.body.from_local;
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
  // The signed link: checked without the database (/v/ + a COSE_Sign1 token).
  assert.match(link, new RegExp(`^${VALIDATOR}/v/[A-Za-z0-9_-]{150,260}$`));

  await page.goto(decoded.data);
  assert.equal((await page.textContent('.status .label')).trim(), 'VIGENTE');
  const facts = await page.textContent('dl.facts');
  assert.match(facts, /J\. P\. S\./);
  assert.match(facts, /\*\*\.\*\*\*\.678-5/);
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

/** A Y4M video (what Chromium's fake camera plays) of the image `png`, centred on white. */
function writeY4m(png, path) {
  const [width, height] = [640, 480];
  const luma = Buffer.alloc(width * height, 255);
  const [left, top] = [(width - png.width) >> 1, (height - png.height) >> 1];
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const at = (y * png.width + x) * 4;
      luma[(top + y) * width + left + x] = Math.round(0.299 * png.data[at] + 0.587 * png.data[at + 1] + 0.114 * png.data[at + 2]);
    }
  }
  const frame = Buffer.concat([Buffer.from('FRAME\n'), luma, Buffer.alloc(width * height / 2, 128)]);
  writeFileSync(path, Buffer.concat([Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`), frame, frame]));
}

/** The validator behind a port of its own, so the test can take "the network" away. */
async function relayTo(target) {
  const upstream = new URL(target);
  const server = http.createServer((request, response) => {
    const forwarded = http.request({
      host: '127.0.0.1', port: upstream.port, path: request.url, method: request.method, headers: request.headers,
    }, (answer) => {
      response.writeHead(answer.statusCode, answer.headers);
      answer.pipe(response);
    });
    forwarded.on('error', () => response.destroy());
    request.pipe(forwarded);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://${upstream.hostname}:${server.address().port}` };
}

test('the scanner verifies a real permit from the camera offline, and refuses a tampered one', async () => {
  const issuing = await newPage();
  await issuing.goto(`${ISSUER}/nuevo`);
  await fillForm(issuing, citizen('7.654.321-6'));
  const link = await issuing.getAttribute('a.code', 'href');
  const video = `${ARTIFACTS}/permit-qr.y4m`;
  writeY4m(PNG.sync.read(await issuing.locator('svg.qr').screenshot()), video);

  const relay = await relayTo(VALIDATOR);
  const camera = await launch(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${video}`]);
  try {
    const context = await camera.newContext({ viewport: SIZES.mobile, locale: 'es-CL', permissions: ['camera'] });
    const page = await context.newPage();
    await page.goto(`${relay.origin}/escanear`);
    await page.waitForSelector('#claves[data-ready="true"]');
    await page.evaluate(() => navigator.serviceWorker.ready);
    await audit(page, '12-scanner');

    // Airplane mode: the browser offline, and nothing listening where the validator was.
    await context.setOffline(true);
    relay.server.close();
    relay.server.closeAllConnections();
    await page.reload();
    await page.waitForSelector('#claves[data-ready="true"]');
    assert.match(await page.textContent('#claves'), /Claves del emisor \(1\) actualizadas el/);
    await page.click('#activar');
    await page.waitForSelector('#resultado:not([hidden])', { timeout: 20_000 });
    assert.equal((await page.textContent('#estado')).trim(), 'VIGENTE');
    assert.equal(await page.textContent('#nombre'), 'J. P. S.');
    assert.equal(await page.textContent('#rut'), '**.***.321-6');
    assert.equal(await page.textContent('#reglas'), 'Comuna fuera del plan Paso a Paso · reglas 2021-04-05');
    assert.match(await page.textContent('#revocaciones'), /sin conexión: no se consultaron revocaciones/);
    await audit(page, '13-scanner-offline-valid');

    const token = link.split('/v/')[1];
    const at = token.length - 12;
    const tampered = `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
    await page.fill('#enlace', `${VALIDATOR}/v/${tampered}`);
    await page.click('#pegar button[type=submit]');
    await page.waitForFunction(() => document.getElementById('estado').textContent === 'NO VÁLIDO');
    assert.ok(await page.locator('#datos').isHidden(), 'no permit data for a tampered token');
    await audit(page, '14-scanner-offline-tampered');
  } finally {
    await camera.close();
  }
});

test('the form shows the comuna\'s phase, and a refusal names its rule', async () => {
  const page = await newPage();
  // From /fases to the form for the comuna: its phase to come is shown before it applies.
  await page.goto(`${ISSUER}/fases`);
  await page.click(`tr:has-text("${PHASED}") >> text=Solicitar`);
  assert.equal(await page.inputValue('#comuna'), PHASED);
  assert.match(await page.textContent('#fase'), new RegExp(`Desde el ${phaseFrom} pasa a Preparación`));
  // Once it is in force (both issuers read it within PHASE_REFRESH_SECONDS), the form says
  // what the phase asks, and a request is refused naming the rule.
  const deadline = Date.now() + 180_000;
  for (;;) {
    await page.goto(`${ISSUER}/nuevo?comuna=${PHASED}`);
    if (/fase 3, Preparación/.test(await page.textContent('#fase'))) break;
    assert.ok(Date.now() < deadline, `${PHASED} never showed Preparación: ${await page.textContent('#fase')}`);
    await page.waitForTimeout(5_000);
  }
  assert.match(await page.textContent('#fase'), /no se pide permiso para salir\.\s*Reglas 2021-04-05/);
  await audit(page, '15-form-phase');
  await fillForm(page, { ...citizen('15.123.456-9'), comuna: PHASED });
  assert.equal(
    (await page.textContent('[role=alert]')).trim(),
    `${PHASED} está en Preparación: no necesitas permiso para salir.`,
  );
  await audit(page, '16-form-refused-by-phase');
});

test('an employer uploads its workers\' spreadsheet and each bad row is named', async () => {
  const page = await newPage();
  await page.goto(`${ISSUER}/`);
  await page.click('a[href="/colectivo"]');
  await audit(page, '17-collective-form');
  const table = 'rut,nombre,comuna,direccion\n'
    + '16.000.001-5,Ana Rojas Díaz,Ñuñoa,"Av. Irarrázaval 3400, local 2"\n'
    + '16.000.002-9,Luis Soto,Ñuñoa,Av. Irarrázaval 3400\n'
    + '16.000.003-1,Marta Pino,Maipú,Av. Pajaritos 100\n';
  await page.setInputFiles('#nomina', { name: 'nomina.csv', mimeType: 'text/csv', buffer: Buffer.from(table) });
  await page.click('button[type=submit]');
  assert.equal((await page.textContent('#conteo')).trim(), 'Emitidos: 2. Ya emitidos antes: 0. Rechazados: 1.');
  const rejected = await page.textContent('.fila-rechazada');
  assert.match(rejected, /Línea 3.*rechazado/s);
  assert.match(rejected, /el dígito verificador no corresponde/);
  assert.equal(await page.getAttribute('a[download]', 'download'), 'informe-permisos-colectivos.csv');
  await audit(page, '18-collective-result');
});
