// The service worker of the phone app: keeps the app's own files for offline use. The app's
// data lives in IndexedDB (store.js); the API is never cached here.
const CACHE = "duban-field-v1";
const SHELL = [
  "/m/",
  "/m/manifest.webmanifest",
  "/static/m/app.js",
  "/static/m/store.js",
  "/static/m/sync.js",
  "/static/m/image.js",
  "/static/m/app.css",
  "/static/m/icon-192.png",
  "/static/m/icon-512.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith("/api/")) return; // data: the app handles being offline
  if (event.request.mode === "navigate" && url.pathname === "/m/") {
    // The page: fresh when the server answers (a signed-out user is sent to sign in),
    // else the kept copy.
    event.respondWith(fetch(event.request).then((r) => {
      if (r.ok && !r.redirected) caches.open(CACHE).then((c) => c.put("/m/", r.clone()));
      return r;
    }).catch(() => caches.match("/m/")));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    // The app's code: the network first (so an update arrives), the kept copy offline.
    event.respondWith(fetch(event.request).then((r) => {
      if (r.ok) { const copy = r.clone(); caches.open(CACHE).then((c) => c.put(url.pathname, copy)); }
      return r;
    }).catch(() => caches.match(url.pathname)));
  }
});
