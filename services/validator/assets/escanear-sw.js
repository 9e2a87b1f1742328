// The scanner's service worker: keeps the page, its scripts and the public keys, so the
// scanner opens and verifies with no network. The keys are fetched afresh whenever the
// network answers; everything else comes from the cache, replaced with each new version.
const CACHE = 'escanear-__VERSION__';
const KEYS = '/.well-known/jwks.json';
const SHELL = ['/escanear', '/static/app.css', '/static/jsqr.js', '/static/escanear.js', KEYS];

self.addEventListener('install', (event) => {
  // `reload`: past the browser's HTTP cache, so a new version never caches an old script.
  const fresh = SHELL.map((path) => new Request(path, { cache: 'reload' }));
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(fresh)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith('escanear-') && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

async function keysFromNetworkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const fresh = await fetch(request);
    if (fresh.ok) await cache.put(KEYS, fresh.clone());
    return fresh;
  } catch {
    return (await cache.match(KEYS)) ?? Response.error();
  }
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname === KEYS) {
    event.respondWith(keysFromNetworkFirst(event.request));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit ?? fetch(event.request)));
  }
});
