/**
 * @fileoverview The playground's cache of compiled kernels: `compile()`'s
 * synchronous `ModuleCache` over a Map, written through to IndexedDB and
 * read back from it when the worker starts, so that compiling a spec seen
 * before (in this session or an earlier visit) skips asc. The key hashes
 * everything asc sees, so an entry is never stale. IndexedDB being
 * unavailable (private windows, a blocked profile) only costs time.
 */
import type { ModuleCache } from "../compiler/codegen/compile.ts";

const DB = "flowc-playground";
const STORE = "modules";
/** Entries kept (a few tens of KiB each); beyond that, the first in the Map is dropped. */
const LIMIT = 64;

function open(): Promise<IDBDatabase> {
  return new Promise((ok, fail) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
  });
}

export async function openModuleCache(): Promise<ModuleCache> {
  const entries = new Map<string, Uint8Array>();
  let db: IDBDatabase | null = null;
  try {
    db = await open();
    await new Promise<void>((ok, fail) => {
      const req = db!.transaction(STORE, "readonly").objectStore(STORE).openCursor();
      req.onsuccess = () => {
        const cur = req.result;
        if (!cur) return ok();
        if (cur.value instanceof Uint8Array) entries.set(String(cur.key), cur.value);
        cur.continue();
      };
      req.onerror = () => fail(req.error);
    });
  } catch {
    db = null;
  }
  return {
    get: (key) => entries.get(key),
    set(key, wasm) {
      entries.set(key, wasm);
      if (!db) return;
      try {
        const store = db.transaction(STORE, "readwrite").objectStore(STORE);
        store.put(wasm, key);
        if (entries.size > LIMIT) {
          const oldest = entries.keys().next().value as string;
          entries.delete(oldest);
          store.delete(oldest);
        }
      } catch {
        // A full or closed database only costs time.
      }
    },
  };
}
