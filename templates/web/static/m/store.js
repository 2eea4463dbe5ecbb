// The phone's own store (IndexedDB): what was downloaded and what was recorded, kept across
// reloads and restarts. Stores: meta (session, setups), villages (households of one village),
// visits (recorded visits and their sync state), files (photos and signatures as Blobs).
const DB_NAME = "duban-field";
const DB_VERSION = 1;
let opening = null;

export function open() {
  if (opening) return opening;
  opening = new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      db.createObjectStore("meta");
      db.createObjectStore("villages");
      const visits = db.createObjectStore("visits", { keyPath: "client_id" });
      visits.createIndex("campaign", "campaign");
      const files = db.createObjectStore("files", { keyPath: "client_id" });
      files.createIndex("visit", "visit");
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return opening;
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("事务已中止"));
  });
}

function result(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export async function get(store, key) {
  const db = await open();
  return result(db.transaction(store).objectStore(store).get(key));
}

export async function put(store, value, key) {
  const db = await open();
  const tx = db.transaction(store, "readwrite");
  tx.objectStore(store).put(value, key);
  return done(tx);
}

export async function all(store, index, value) {
  const db = await open();
  const os = db.transaction(store).objectStore(store);
  return result(index ? os.index(index).getAll(value) : os.getAll());
}

export async function remove(store, key) {
  const db = await open();
  const tx = db.transaction(store, "readwrite");
  tx.objectStore(store).delete(key);
  return done(tx);
}

// A visit and its files in one transaction: either both are kept or neither.
export async function saveVisit(visit, files, dropped = []) {
  const db = await open();
  const tx = db.transaction(["visits", "files"], "readwrite");
  tx.objectStore("visits").put(visit);
  for (const f of files) tx.objectStore("files").put(f);
  for (const id of dropped) tx.objectStore("files").delete(id);
  return done(tx);
}

export async function deleteVisit(clientId) {
  const db = await open();
  const files = await all("files", "visit", clientId);
  const tx = db.transaction(["visits", "files"], "readwrite");
  tx.objectStore("visits").delete(clientId);
  for (const f of files) tx.objectStore("files").delete(f.client_id);
  return done(tx);
}

// Ask the browser to keep the store when space runs low (best effort).
export async function persist() {
  if (navigator.storage && navigator.storage.persist) {
    try { return await navigator.storage.persist(); } catch (e) { return false; }
  }
  return false;
}

// An id made on the phone: 32 hex digits (crypto.randomUUID needs HTTPS; this does not).
export function newId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
