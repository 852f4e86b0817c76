// etcd3 reads its gRPC definitions from its own directory when it loads: lib/connection-pool.js
// calls loadSync on `${__dirname}/../proto/rpc.proto`, which imports kv.proto and auth.proto. In a
// compiled executable that path is the build machine's node_modules (Bun bakes the absolute
// path in), absent on the hosts it runs on. So the build embeds them instead: the same protobufjs
// that @grpc/proto-loader uses parses the three files with the parse option etcd3 gives
// (keepCase), and the call becomes `fromJSON(<that root as JSON>, <etcd3's options>)`,
// @grpc/proto-loader's own entry for a pre-parsed root. No file system at run time, about 25 KB
// in the RM's chunk only (the plugins never reach etcd3); test/etcd/standalone.test.ts checks that
// both give the same package definition and that a lone copy of the executable reaches etcd.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { BunPlugin } from "bun";

const ETCD_POOL = /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/;
const ETCD_LOAD = /\(0,\s*([\w$]+)\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`,\s*(\{[^}]*\})/;

/** etcd3's rpc.proto (and its imports) parsed as etcd3's connection pool parses them, as JSON. */
export function etcdProtoJson(pool: string, keepCase: boolean): string {
  const fromPool = createRequire(pool);
  const protobuf = createRequire(fromPool.resolve("@grpc/proto-loader"))("protobufjs") as {
    Root: new () => { loadSync(file: string, o: object): { resolveAll(): { toJSON(): unknown } } };
  };
  const rpc = join(dirname(pool), "..", "proto", "rpc.proto");
  return JSON.stringify(new protobuf.Root().loadSync(rpc, { keepCase }).resolveAll().toJSON());
}

/** etcd3's connection pool with its proto loading rewritten to the embedded definitions. */
export function embedEtcdProtos(path: string, source: string): string {
  const m = ETCD_LOAD.exec(source);
  if (m === null) {
    // A new etcd3 that loads its protos some other way: fail rather than make an RM that cannot
    // reach etcd.
    throw new Error(`${path}: etcd3's loadSync(rpc.proto) call not found; update scripts/etcd-protos.ts`);
  }
  const [call, loader = "", options = ""] = m;
  const json = etcdProtoJson(path, /\bkeepCase:\s*true\b/.test(options));
  return source.replace(
    call,
    () => `(0, ${loader}.fromJSON)(JSON.parse(${JSON.stringify(json)}), ${options}`,
  );
}

/** The bundler plugin that applies embedEtcdProtos. */
export const etcdProtos: BunPlugin = {
  name: "dockin-etcd-protos",
  setup(build) {
    build.onLoad({ filter: ETCD_POOL }, (args) => ({
      contents: embedEtcdProtos(args.path, readFileSync(args.path, "utf8")),
      loader: "js",
    }));
  },
};
