// The app's service worker: it keeps the app's files so that the cart page
// opens, and works on its stored replica, while the node cannot be reached.
// Files have content-hashed names and never change, so they are served
// from the cache first; pages are fetched from the node first and served
// from the cache only when it cannot be reached. API calls pass through.

const CACHE = "crdtd-app";
// The server rewrites these names to the hashed ones it serves.
const ASSETS = [
  "/assets/cart.wasm",
  "/assets/wasm_exec.js",
  "/assets/style.css",
  "/assets/favicon.svg",
  "/assets/api.js",
  "/assets/store.js",
  "/assets/app.js",
  "/assets/cluster.js",
];
const PAGE = "/"; // the cart page, the same document for / and /carts/{cart}

self.addEventListener("install", (ev) => {
  ev.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll([...ASSETS, PAGE]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (ev) => {
  // Drop the files of earlier versions of the app.
  const keep = new Set([...ASSETS, PAGE, "/cluster"].map((p) => new URL(p, self.location.origin).href));
  ev.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.keys().then((reqs) => Promise.all(reqs.filter((r) => !keep.has(r.url)).map((r) => c.delete(r)))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (ev) => {
  const req = ev.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/assets/")) {
    ev.respondWith(caches.match(req).then((hit) => hit || fetch(req)));
    return;
  }
  if (req.mode === "navigate") {
    const key = url.pathname === "/cluster" ? "/cluster" : url.pathname === "/" || url.pathname.startsWith("/carts/") ? PAGE : "";
    if (!key) return;
    ev.respondWith(
      fetch(req)
        .then((resp) => {
          if (resp.ok) {
            const copy = resp.clone();
            caches.open(CACHE).then((c) => c.put(key, copy));
          }
          return resp;
        })
        .catch(() => caches.match(key).then((hit) => hit || Response.error())),
    );
  }
});
