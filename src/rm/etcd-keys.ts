// The RM's key layout on etcd (docs/etcd.md explains the sizes and request rates). Everything lives
// under one prefix (default `/dockin`) and a layout version, so two RMs (or a test per case) can
// share a cluster, and a later layout can sit beside this one during a migration:
//
//   <prefix>/v1/schema                          "1"
//   <prefix>/v1/networks/<name>                 {"spec", "created", "updated"}
//   <prefix>/v1/pods/<namespace>/<name>         the pod record (JSON)
//   <prefix>/v1/addr/<network>/<4|6>/<32 hex>   "<namespace>/<name>" of the pod holding it
//   <prefix>/v1/cursor/<network>/<4|6>          32 hex: the last address handed out
//   <prefix>/v1/policies/<name>                 the policy (JSON)
//   <prefix>/v1/history/events/<id>             an address history event (history.ts: encodeEvent)
//   <prefix>/v1/history/address/<address>/<id> the event's network (an index: one range per address)
//   <prefix>/v1/history/pod/<ns>/<name>/<id>    "" (an index: one range per pod)
//   <prefix>/v1/history/network/<network>/<id>  "" (an index: one range per network)
//   <prefix>/v1/history/seeded                  "1": the addresses held before history are events
//
// History ids start with their time (history.ts), so a time span is a key range in every one of
// those; the history is kept in its own keys, apart from etcd's revisions (which compaction drops).
//
// Names never hold '/', so every "<x>/" prefix is exact. Address keys are 32 hex digits, so a
// network's addresses sort like the numbers and one range read walks them in order.
import type { Family } from "../net/ip.ts";
import { addressKey, keyValue } from "./allocate.ts";

export const SCHEMA_VERSION = 1;

/** The key just after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end[i] ?? 0;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every key
}

export class Keys {
  readonly root: string;

  constructor(prefix: string) {
    if (!prefix.startsWith("/") || prefix.endsWith("/")) {
      throw new Error(`etcd key prefix "${prefix}": must start with '/' and not end with one`);
    }
    this.root = `${prefix}/v1`;
  }

  private b(text: string): Buffer {
    return Buffer.from(text, "utf8");
  }

  schema(): Buffer {
    return this.b(`${this.root}/schema`);
  }

  networks(): Buffer {
    return this.b(`${this.root}/networks/`);
  }

  network(name: string): Buffer {
    return this.b(`${this.root}/networks/${name}`);
  }

  pods(namespace?: string): Buffer {
    return this.b(namespace === undefined ? `${this.root}/pods/` : `${this.root}/pods/${namespace}/`);
  }

  pod(namespace: string, name: string): Buffer {
    return this.b(`${this.root}/pods/${namespace}/${name}`);
  }

  /** Every address of a network, or of one of its families. */
  addrs(network?: string, family?: Family): Buffer {
    if (network === undefined) return this.b(`${this.root}/addr/`);
    return this.b(
      family === undefined ? `${this.root}/addr/${network}/` : `${this.root}/addr/${network}/${family}/`,
    );
  }

  addr(network: string, family: Family, value: bigint): Buffer {
    return this.b(`${this.root}/addr/${network}/${family}/${addressKey(value)}`);
  }

  /** The address value of an address key (its last 32 characters). */
  addrValue(key: Buffer): bigint {
    return keyValue(key.toString("latin1").slice(-32));
  }

  /** Network and family of an address key. */
  addrParts(key: Buffer): { network: string; family: Family; value: bigint } {
    const rest = key.toString("utf8").slice(`${this.root}/addr/`.length);
    const [network = "", family = "4", hex = "0"] = rest.split("/");
    return { network, family: family === "6" ? 6 : 4, value: keyValue(hex) };
  }

  cursors(network?: string): Buffer {
    return this.b(network === undefined ? `${this.root}/cursor/` : `${this.root}/cursor/${network}/`);
  }

  cursor(network: string, family: Family): Buffer {
    return this.b(`${this.root}/cursor/${network}/${family}`);
  }

  policies(): Buffer {
    return this.b(`${this.root}/policies/`);
  }

  policy(name: string): Buffer {
    return this.b(`${this.root}/policies/${name}`);
  }

  /** Written once the history holds the addresses held before there was one (seedEvents). */
  historySeeded(): Buffer {
    return this.b(`${this.root}/history/seeded`);
  }

  /** Every history event. */
  events(): Buffer {
    return this.b(`${this.root}/history/events/`);
  }

  event(id: string): Buffer {
    return this.b(`${this.root}/history/events/${id}`);
  }

  /** The history index of one address, one pod or one network (keys end with the event id). */
  historyBy(index: "address" | "pod" | "network", value: string): Buffer {
    return this.b(`${this.root}/history/${index}/${value}/`);
  }

  /** The last path segment of a key under `parent` (a network or policy name). */
  nameIn(parent: Buffer, key: Buffer): string {
    return key.subarray(parent.length).toString("utf8");
  }
}
