// Opens the store named on the command line: `sqlite:PATH` or `etcd:URL[,URL…]` (the etcd client
// is loaded only when an etcd store is asked for).
import type { EtcdFlags } from "./etcd-store.ts";
import { openSqliteStore, type Synchronous } from "./sqlite-store.ts";
import type { Store } from "./store.ts";

export interface OpenStoreOptions {
  sqliteSync?: Synchronous;
  /** `--etcd-ca`, `--etcd-cert`, `--etcd-key`, `--etcd-prefix`. */
  etcd?: EtcdFlags;
}

export async function openStore(spec: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (spec.startsWith("sqlite:")) {
    const path = spec.slice("sqlite:".length);
    if (path === "")
      throw new Error(`--store ${spec}: the SQLite file path is missing (sqlite:/var/lib/dockin/rm.db)`);
    return openSqliteStore(path, options.sqliteSync === undefined ? {} : { synchronous: options.sqliteSync });
  }
  if (spec.startsWith("etcd:")) {
    const { openEtcdStoreFromSpec } = await import("./etcd-store.ts");
    return openEtcdStoreFromSpec(spec, options.etcd);
  }
  throw new Error(`--store "${spec}": expected sqlite:PATH or etcd:URL[,URL…]`);
}
