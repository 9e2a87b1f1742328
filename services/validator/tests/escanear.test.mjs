// The offline scanner's own script (assets/escanear.js), run in Node's VM with a small
// stand-in for the page's elements and Node's WebCrypto. After a genuine permit is shown,
// every malformed, truncated, tampered or over-long token must end on NO VÁLIDO with
// nothing of the genuine permit left on screen.
//
// Run by scripts/test.sh, which passes SCANNER_FIXTURE (`cargo xtask scanner-fixture`):
// a JWK Set and tokens signed by the real signer with a key made for the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import vm from 'node:vm';

const SCRIPT = readFileSync(new URL('../assets/escanear.js', import.meta.url), 'utf8');
const FIXTURE = JSON.parse(process.env.SCANNER_FIXTURE);
const LINK = 'https://validar.example.cl/v/';
const RESULT_IDS = ['estado', 'vigencia', 'nombre', 'rut', 'motivo', 'reglas', 'revocaciones'];

class Element {
  constructor(id) {
    this.id = id;
    this.textContent = '';
    this.hidden = id === 'resultado' || id === 'datos';
    this.className = '';
    this.dataset = {};
    this.disabled = false;
    this.value = '';
  }

  addEventListener() {}
}

/** A page with the scanner's elements, the script loaded into it and its keys read. */
async function scanner({ pageLimit = true } = {}) {
  const elements = new Map();
  const element = (id) => {
    if (!elements.has(id)) elements.set(id, new Element(id));
    return elements.get(id);
  };
  if (pageLimit) element('motivos').dataset.longestWindowSeconds = String(FIXTURE.longest_window_seconds);
  const motive = { dataset: { code: 'compras' }, textContent: 'Compras de insumos básicos' };
  const phase = { dataset: { number: '1' }, textContent: 'Fase 1 · Cuarentena' };
  const offline = () => Promise.reject(new TypeError('offline'));
  const context = {
    document: { getElementById: element, querySelectorAll: (selector) => (selector.startsWith('#fases') ? [phase] : [motive]), createElement: () => ({}) },
    navigator: {},
    crypto: webcrypto,
    fetch: (url) => (url === '/.well-known/jwks.json'
      ? Promise.resolve({ json: async () => FIXTURE.keys, headers: { get: () => null } })
      : offline()),
    AbortSignal, TextDecoder, TextEncoder, atob, btoa, setTimeout, Date, Intl, Number, Map, Uint8Array, DataView,
  };
  context.window = context;
  context.isSecureContext = true;
  vm.createContext(context);
  vm.runInContext(SCRIPT, context, { filename: 'escanear.js' });
  for (let i = 0; i < 100 && element('claves').dataset.ready !== 'true'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(element('claves').dataset.ready, 'true', element('claves').textContent);
  // Top-level function declarations of a classic script are the context's globals.
  return { show: (text) => context.show(text), element };
}

/** What a person sees: the result box, the details card and every text in them. */
function screen(element) {
  return {
    box: element('resultado').hidden ? null : element('resultado').className,
    details: !element('datos').hidden,
    ...Object.fromEntries(RESULT_IDS.map((id) => [id, element(id).textContent])),
  };
}

const NOT_VALID = {
  box: 'status status-invalid',
  details: false,
  estado: 'NO VÁLIDO',
  vigencia: 'Este permiso no fue firmado por el emisor o fue alterado. No lo aceptes.',
  nombre: '', rut: '', motivo: '', reglas: '', revocaciones: '',
};

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A fixed pseudo-random sequence (mulberry32), so a failure can be replayed. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const toBase64url = (bytes) => Buffer.from(bytes).toString('base64url');

/** Every token that is not the genuine one, each named for the failure message. */
function corpus(genuine) {
  const cases = [
    ['length 1 mod 4', 'A'],
    ['invalid UTF-8 in a text', '0oRAoWH_AEBA'],
    ['over-long', genuine + 'A'.repeat(400)],
    ['padded', `${genuine}=`],
    ['genuinely signed, valid from year -9999 to 9999', FIXTURE.long_window],
  ];
  for (let end = 1; end < genuine.length; end++) cases.push([`truncated to ${end}`, genuine.slice(0, end)]);
  for (let at = 0; at < genuine.length; at++) {
    const next = ALPHABET[(ALPHABET.indexOf(genuine[at]) + 1) % ALPHABET.length];
    cases.push([`character ${at} changed`, genuine.slice(0, at) + next + genuine.slice(at + 1)]);
  }
  const bytes = Buffer.from(genuine, 'base64url');
  for (let at = 0; at < bytes.length; at++) {
    for (const flip of [0x01, 0x80]) {
      const altered = Buffer.from(bytes);
      altered[at] ^= flip;
      cases.push([`byte ${at} ^ ${flip}`, toBase64url(altered)]);
    }
  }
  // The outer array's length written in two bytes: the signature still matches.
  cases.push(['non-shortest CBOR length', toBase64url(Buffer.concat([Buffer.from([0xd2, 0x98, 0x04]), bytes.subarray(2)]))]);
  const next = random(2026);
  for (let n = 0; n < 2000; n++) {
    const chars = [...genuine];
    for (let edits = 1 + Math.floor(next() * 4); edits > 0; edits--) {
      const at = Math.floor(next() * chars.length);
      const kind = Math.floor(next() * 3);
      if (kind === 0) chars[at] = ALPHABET[Math.floor(next() * 64)];
      else if (kind === 1) chars.splice(at, 1);
      else chars.splice(at, 0, ALPHABET[Math.floor(next() * 64)]);
    }
    const mutated = chars.join('');
    if (mutated !== genuine) cases.push([`mutation ${n}`, mutated]);
  }
  return cases;
}

test('a genuine token reads VIGENTE with its masked holder', async () => {
  const { show, element } = await scanner();
  await show(LINK + FIXTURE.valid);
  const seen = screen(element);
  assert.equal(seen.box, 'status status-valid');
  assert.equal(seen.estado, 'VIGENTE');
  assert.equal(seen.details, true);
  assert.equal(seen.nombre, 'C. P.');
  assert.equal(seen.rut, '**.***.000-0');
  assert.equal(seen.motivo, 'Compras de insumos básicos');
  assert.match(seen.reglas, /^Fase 1 · Cuarentena · reglas \d{4}-\d{2}-\d{2}$/);
  assert.match(seen.revocaciones, /sin conexión/);
});

test('after a genuine token, every malformed or tampered one reads NO VÁLIDO and shows nothing of it', async () => {
  const { show, element } = await scanner();
  const cases = corpus(FIXTURE.valid);
  assert.ok(cases.length > 2500, `${cases.length} cases`);
  for (const [name, token] of cases) {
    await show(LINK + FIXTURE.valid);
    assert.equal(element('estado').textContent, 'VIGENTE', 'the genuine token, before the bad one');
    await show(LINK + token);
    const seen = screen(element);
    // Text that is not even a signed link ("…/v/…=") says so; the rest fail verification.
    const expected = seen.box === 'status status-not_found'
      ? { ...NOT_VALID, box: seen.box, vigencia: 'Este código no es un permiso.' } : NOT_VALID;
    assert.deepEqual(seen, expected, `${name}: ${token}`);
  }
});

test('a code that is not a signed link hides the previous permit too', async () => {
  const { show, element } = await scanner();
  for (const [text, label] of [['https://validar.example.cl/validar/AAAAAAAAAAAAAAAAAAAAAA', 'SIN FIRMA'], ['hola', 'NO VÁLIDO'], [LINK, 'NO VÁLIDO']]) {
    await show(LINK + FIXTURE.valid);
    await show(text);
    const seen = screen(element);
    assert.equal(seen.estado, label);
    assert.equal(seen.details, false);
    assert.deepEqual([seen.nombre, seen.rut, seen.motivo, seen.reglas, seen.revocaciones], ['', '', '', '', '']);
  }
});

test('a page from an older deployment, without the window limit, still refuses what no motive gives', async () => {
  const { show, element } = await scanner({ pageLimit: false });
  await show(LINK + FIXTURE.valid);
  assert.equal(element('estado').textContent, 'VIGENTE');
  await show(LINK + FIXTURE.long_window);
  assert.deepEqual(screen(element), NOT_VALID);
});

test('a slow scan cannot overwrite a later one', async () => {
  const { show, element } = await scanner();
  const first = show(LINK + FIXTURE.valid);
  const second = show(LINK + 'A');
  await Promise.all([first, second]);
  assert.deepEqual(screen(element), NOT_VALID);
});
