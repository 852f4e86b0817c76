// Opens the store named on the command line: `sqlite:PATH` (etcd: another issue adds its branch).
import { openSqliteStore, type Synchronous } from "./sqlite-store.ts";
import type { Store } from "./store.ts";

export interface OpenStoreOptions {
  sqliteSync?: Synchronous;
}

export async function openStore(spec: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (spec.startsWith("sqlite:")) {
    const path = spec.slice("sqlite:".length);
    if (path === "")
      throw new Error(`--store ${spec}: the SQLite file path is missing (sqlite:/var/lib/dockin/rm.db)`);
    return openSqliteStore(path, options.sqliteSync === undefined ? {} : { synchronous: options.sqliteSync });
  }
  if (spec.startsWith("etcd:"))
    throw new Error(`--store ${spec}: the etcd store is not available in this build yet`);
  throw new Error(`--store "${spec}": expected sqlite:PATH or etcd:URL[,URL…]`);
}
