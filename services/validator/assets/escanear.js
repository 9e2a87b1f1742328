// The offline scanner: reads a permit's QR code with the camera (BarcodeDetector where the
// browser has it, jsQR otherwise), verifies its COSE_Sign1 signature with the issuer's
// published Ed25519 keys (WebCrypto) and shows its status. Once the service worker has
// cached the page and the keys, none of this needs the network.
'use strict';

const LABELS = {
  valid: 'VIGENTE', not_yet_valid: 'AÚN NO VIGENTE', expired: 'EXPIRADO', revoked: 'REVOCADO', invalid: 'NO VÁLIDO',
};
const COSE_SIGN1 = 18;
const EDDSA = -8;
/** As the validator: ours are about 215 characters. */
const MAX_TOKEN_CHARS = 512;
const $ = (id) => document.getElementById(id);
const motives = new Map([...document.querySelectorAll('#motivos li')].map((li) => [li.dataset.code, li.textContent]));
/** `1` → `Fase 1 · Cuarentena`, from the page. */
const phases = new Map([...document.querySelectorAll('#fases li')].map((li) => [li.dataset.number, li.textContent]));
/** What a permit was issued under, as the issuer writes it: `2021-04-05/1`, `2021-04-05/-`. */
const ISSUED_UNDER = /^([A-Za-z0-9.-]{1,40})\/([1-5]|-)$/;
/** The longest validity a genuine permit can have: the validator's limit, from the page;
 * if the page came from an older deployment than this script (a rolling update while the
 * service worker was caching), the limit as it stood when this was written (7 days 10 min). */
const LONGEST_WINDOW_SECONDS = Number($('motivos').dataset.longestWindowSeconds) || 605400;
/** The end of year 9999: no later time is a permit's. */
const LAST_SECOND = 253402300799;
let keys = new Map();
/** Counts scans, so that a slow verification cannot overwrite a later scan's result. */
let scans = 0;

class NotGenuine extends Error {}

// CBOR (RFC 8949): definite lengths in their shortest form (the one encoding the issuer
// writes), the types a COSE_Sign1 CWT holds. Throws on anything else.
function decodeCbor(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n) => { if (at + n > bytes.length) throw new NotGenuine('truncated'); };
  const argument = (info) => {
    if (info < 24) return info;
    const size = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
    if (!size) throw new NotGenuine('indefinite length');
    need(size);
    const value = size === 1 ? view.getUint8(at) : size === 2 ? view.getUint16(at)
      : size === 4 ? view.getUint32(at) : Number(view.getBigUint64(at));
    at += size;
    const shortest = size === 1 ? value >= 24 : size === 2 ? value >= 256 : size === 4 ? value >= 65536 : value >= 2 ** 32;
    if (!shortest) throw new NotGenuine('not the shortest encoding');
    return value;
  };
  const item = () => {
    need(1);
    const initial = bytes[at++];
    const n = argument(initial & 31);
    switch (initial >> 5) {
      case 0: return n;
      case 1: return -1 - n;
      case 2: need(n); at += n; return bytes.subarray(at - n, at);
      case 3: need(n); at += n; return new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(at - n, at));
      case 4: { const list = []; for (let i = 0; i < n; i++) list.push(item()); return list; }
      case 5: { const map = new Map(); for (let i = 0; i < n; i++) { const key = item(); map.set(key, item()); } return map; }
      case 6: return { tag: n, value: item() };
      default: throw new NotGenuine('unexpected simple value');
    }
  };
  const value = item();
  if (at !== bytes.length) throw new NotGenuine('trailing bytes');
  return value;
}

const toBase64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

// Strict, as the validator is: one text per byte string.
function fromBase64url(text) {
  if (text.length > MAX_TOKEN_CHARS || text.length % 4 === 1 || !/^[A-Za-z0-9_-]+$/.test(text)) throw new NotGenuine('not base64url');
  const bytes = Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4)), (c) => c.charCodeAt(0));
  if (toBase64url(bytes) !== text) throw new NotGenuine('not canonical base64url');
  return bytes;
}

// Sig_structure (RFC 9052 §4.4): ["Signature1", protected, external_aad = h'', payload].
function toBeSigned(protectedBytes, payload) {
  const bstr = (b) => [...(b.length < 24 ? [0x40 + b.length] : b.length < 256 ? [0x58, b.length] : [0x59, b.length >> 8, b.length & 255]), ...b];
  const context = new TextEncoder().encode('Signature1');
  return new Uint8Array([0x84, 0x60 + context.length, ...context, ...bstr(protectedBytes), 0x40, ...bstr(payload)]);
}

const isBytes = (v) => v instanceof Uint8Array;

/** The permit a genuine token carries; throws NotGenuine for anything else. */
async function verify(token) {
  const top = decodeCbor(fromBase64url(token));
  if (top?.tag !== COSE_SIGN1 || !Array.isArray(top.value) || top.value.length !== 4) throw new NotGenuine('not COSE_Sign1');
  const [protectedBytes, unprotected, payload, signature] = top.value;
  if (![protectedBytes, payload, signature].every(isBytes)) throw new NotGenuine('not COSE_Sign1');
  // The issuer puts everything under the signature; an unsigned header is never genuine.
  if (!(unprotected instanceof Map) || unprotected.size !== 0) throw new NotGenuine('unprotected header');
  const header = decodeCbor(protectedBytes);
  if (!(header instanceof Map) || header.get(1) !== EDDSA || header.has(2)) throw new NotGenuine('algorithm');
  const kid = header.get(4);
  const key = isBytes(kid) && keys.get(toBase64url(kid));
  if (!key) throw new NotGenuine('unknown key');
  if (!(await crypto.subtle.verify('Ed25519', key, signature, toBeSigned(protectedBytes, payload)))) throw new NotGenuine('signature');
  const claims = decodeCbor(payload);
  const permit = {
    id: isBytes(claims.get(7)) && claims.get(7).length === 16 ? toBase64url(claims.get(7)) : null,
    validFrom: claims.get(5), expiresAt: claims.get(4), motive: claims.get('m'), name: claims.get('n'), rut: claims.get('r'),
    // Absent from permits signed before they recorded it.
    issuedUnder: claims.has('u') ? typeof claims.get('u') === 'string' && ISSUED_UNDER.exec(claims.get('u')) : undefined,
  };
  if (!permit.id || !Number.isSafeInteger(permit.validFrom) || !Number.isSafeInteger(permit.expiresAt)
    || ![permit.motive, permit.name, permit.rut].every((t) => typeof t === 'string')
    || permit.issuedUnder === null || permit.issuedUnder === false) throw new NotGenuine('claims');
  const window = permit.expiresAt - permit.validFrom;
  if (!(window > 0 && window <= LONGEST_WINDOW_SECONDS) || permit.validFrom < 0 || permit.expiresAt > LAST_SECOND) throw new NotGenuine('validity window');
  return permit;
}

function statusAt(permit, now) {
  if (now < permit.validFrom) return 'not_yet_valid';
  if (now >= permit.expiresAt) return 'expired';
  return 'valid';
}

const local = (date) => date.toLocaleString('es-CL', {
  timeZone: 'America/Santiago', weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

/** The validator's own answer, when the network is there: it knows of revocations. */
async function askOnline(token) {
  try {
    const response = await fetch(`/api/v/${token}`, { cache: 'no-store', signal: AbortSignal.timeout(3000) });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

function showStatus(code, label, line) {
  const box = $('resultado');
  box.className = `status status-${code}`;
  $('estado').textContent = label;
  $('vigencia').textContent = line;
  box.hidden = false;
}

/** Empties the whole result, so nothing of an earlier scan can stay on screen. */
function clearResult() {
  $('resultado').hidden = true;
  $('resultado').className = 'status';
  $('datos').hidden = true;
  for (const id of ['estado', 'vigencia', 'nombre', 'rut', 'motivo', 'reglas', 'revocaciones']) $(id).textContent = '';
}

/** Verifies the scanned or pasted `text` and shows the outcome. Anything that goes wrong
 * while reading it, expected or not, reads NO VÁLIDO: a damaged or forged code must never
 * leave an earlier permit's result on screen. */
async function show(text) {
  const scan = ++scans;
  clearResult();
  try {
    await showVerified(String(text).trim(), () => scan === scans);
  } catch {
    if (scan !== scans) return;
    clearResult();
    showStatus('invalid', LABELS.invalid, 'Este permiso no fue firmado por el emisor o fue alterado. No lo aceptes.');
  }
}

async function showVerified(text, current) {
  const match = /\/v\/([A-Za-z0-9_-]+)\/?$/.exec(text);
  if (!match) {
    const old = /\/validar\/[A-Za-z0-9_-]{22}\/?$/.test(text);
    showStatus('not_found', old ? 'SIN FIRMA' : LABELS.invalid,
      old ? 'Este código no trae firma: ábrelo con conexión para validarlo.' : 'Este código no es un permiso.');
    return;
  }
  const permit = await verify(match[1]);
  let code = statusAt(permit, Date.now() / 1000);
  const online = await askOnline(match[1]);
  if (!current()) return;
  if (online?.status === 'revoked') code = 'revoked';
  const vigencia = `Desde el ${local(new Date(permit.validFrom * 1000))} hasta el ${local(new Date(permit.expiresAt * 1000))}`;
  const checked = online?.revocations_checked_at
    ? `Firma verificada en este teléfono. Revocaciones consultadas el ${local(new Date(online.revocations_checked_at))}.`
    : 'Firma verificada en este teléfono, sin conexión: no se consultaron revocaciones.';
  showStatus(code, LABELS[code], vigencia);
  $('nombre').textContent = permit.name;
  $('rut').textContent = permit.rut;
  $('motivo').textContent = motives.get(permit.motive) ?? permit.motive;
  $('reglas').textContent = rulesText(permit.issuedUnder);
  $('revocaciones').textContent = checked;
  $('datos').hidden = false;
}

/** `Fase 1 · Cuarentena · reglas 2021-04-05`, as the validator's page says it. */
function rulesText(issuedUnder) {
  if (!issuedUnder) return 'Sin datos: emitido antes de que los permisos lo registraran.';
  const [, version, phase] = issuedUnder;
  const where = phase === '-' ? 'Comuna fuera del plan Paso a Paso' : phases.get(phase) ?? `Fase ${phase}`;
  return `${where} · reglas ${version}`;
}

async function loadKeys() {
  const response = await fetch('/.well-known/jwks.json');
  const set = await response.json();
  const loaded = new Map();
  for (const jwk of set.keys) {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.kid) continue;
    loaded.set(jwk.kid, await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, { name: 'Ed25519' }, false, ['verify']));
  }
  keys = loaded;
  const fetched = response.headers.get('date');
  $('claves').textContent = `Claves del emisor (${keys.size}) actualizadas el ${fetched ? local(new Date(fetched)) : 'momento desconocido'}.`;
  $('claves').dataset.ready = 'true';
}

async function detectorOrNull() {
  if (!('BarcodeDetector' in window)) return null;
  const formats = await window.BarcodeDetector.getSupportedFormats();
  return formats.includes('qr_code') ? new window.BarcodeDetector({ formats: ['qr_code'] }) : null;
}

async function scan() {
  const video = $('camara');
  const button = $('activar');
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch {
    $('claves').textContent = 'No se pudo usar la cámara: revisa el permiso del navegador, o pega el enlace abajo.';
    return;
  }
  button.disabled = true;
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  const detector = await detectorOrNull();
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const read = async () => {
    if (detector) return (await detector.detect(video))[0]?.rawValue;
    if (!video.videoWidth) return null;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    return window.jsQR(image.data, image.width, image.height, { inversionAttempts: 'dontInvert' })?.data;
  };
  const tick = async () => {
    const text = await read();
    if (!text) { setTimeout(tick, 150); return; }
    stream.getTracks().forEach((track) => track.stop());
    video.hidden = true;
    button.textContent = 'Escanear otro permiso';
    button.disabled = false;
    await show(text);
  };
  tick();
}

$('activar').addEventListener('click', scan);
$('pegar').addEventListener('submit', (event) => {
  event.preventDefault();
  show($('enlace').value);
});
if (!window.isSecureContext || !crypto.subtle) {
  // Camera, WebCrypto and service workers exist only on HTTPS (or localhost).
  $('claves').textContent = 'El escáner necesita una conexión segura (https). Valida con el enlace del permiso.';
} else {
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/escanear-sw.js', { scope: '/escanear' });
  loadKeys()
    .then(() => { $('activar').disabled = false; })
    .catch(() => { $('claves').textContent = 'Sin claves del emisor: abre esta página una vez con conexión.'; });
}
