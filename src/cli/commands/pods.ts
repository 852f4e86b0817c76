// `dockin pods create|list|show|delete|release|gc`: the RM's pods and their addresses.
import { readFileSync } from "node:fs";
import { errorText } from "../../cni/errors.ts";
import { RmClient } from "../../rm/client.ts";
import type { PodView } from "../../rm/service.ts";
import { parseFlags } from "../args.ts";
import { listKubePods, mayRun } from "../kube.ts";
import {
  CLIENT_OPTIONS,
  CLIENT_USAGE,
  enc,
  objectSubcommands,
  parseAttachment,
  podRef,
  printJson,
  readBodyFile,
  runAdmin,
  table,
  UsageError,
} from "./admin.ts";

const USAGE = `usage: dockin pods <subcommand> [options]

  create NS/NAME --network NET[,ifName=IF][,ip=IP][,master]...
                            register (or change) a pod: its networks in order; without ip= the RM
                            allocates; the first network is the master unless one says master
  create NS/NAME -f FILE    the JSON body of PUT /api/v1/pods/NS/NAME ("-" reads stdin)
  list [--namespace NS] [--limit N] [--after NS/NAME]
  show NS/NAME
  delete NS/NAME            delete the pod and release its addresses
  release NS/NAME [--container-id ID]
                            report the pod gone (what the plugin does on its final DEL): a pod of a
                            releasing policy is deleted, a sticky one only marked detached
  gc [--node NODE] [--listed-at TIME] (NS/NAME... | --pods-file F | --all)
                            release every releasing-policy pod (on NODE) that the list of running
                            pods lacks: NS/NAME..., or a file of them, one a line ("-": stdin);
                            an empty list is refused unless --all (it would release every pod).
                            --listed-at: when the list was read, RFC 3339 with its zone, on the
                            RM's clock (curl <server>/healthz | jq -r .time, just before reading
                            it); a pod attached or changed since is kept: it may be new
  gc --kubernetes [--node NODE] [--kube-api URL] [--kube-token-file F] [--kube-ca-file F]
                            the same with the cluster's running pods (every pod not Succeeded or
                            Failed), listed from its API server (in a pod of the cluster: with
                            its service account), and --listed-at read from the RM first;
                            deploy/kubernetes/gc-cronjob.yaml runs it every 5 minutes

NAME alone means the namespace "default".

${CLIENT_USAGE}`;

const path = (ref: { namespace: string; name: string }) =>
  `/api/v1/pods/${enc(ref.namespace)}/${enc(ref.name)}`;

function onePod(positionals: string[]) {
  if (positionals.length !== 1) throw new UsageError("expected one pod (NS/NAME)");
  return podRef(positionals[0]);
}

function printPod(p: PodView): void {
  const lines = [
    `pod ${p.namespace}/${p.name}${p.policy === undefined ? "" : ` (policy ${p.policy})`}, ${p.sticky ? "sticky" : "released when gone"}`,
  ];
  if (p.containerId !== undefined)
    lines.push(`sandbox ${p.containerId}${p.node === undefined ? "" : ` on ${p.node}`}`);
  lines.push(
    table(
      ["IFNAME", "NETWORK", "MASTER", "ADDRESSES", "GATEWAY"],
      p.networks.map((n) => [
        n.ifName,
        n.network,
        n.master ? "yes" : "",
        n.addresses.map((a) => `${a.address}${a.fixed ? " (fixed)" : ""}`).join(", "),
        n.addresses.map((a) => a.gateway ?? "-").join(", "),
      ]),
    ).trimEnd(),
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}

const create = async (args: string[]) => {
  const { values, positionals } = parseFlags({
    args,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      file: { type: "string", short: "f" },
      network: { type: "string", multiple: true },
    },
  });
  const ref = onePod(positionals);
  let body: unknown;
  if (values.file !== undefined) body = readBodyFile(values.file);
  else {
    if (values.network === undefined) throw new UsageError("--network (or -f FILE) is required");
    body = { networks: values.network.map((n) => parseAttachment(n, true)) };
  }
  const put = await new RmClient(values).put(path(ref), body);
  const pod = put.body as PodView;
  if (values.json) return printJson(pod);
  if (!put.created)
    process.stdout.write(
      `pod ${pod.namespace}/${pod.name} replaced: networks not listed now were released\n`,
    );
  printPod(pod);
};

const list = async (args: string[]) => {
  const { values } = parseFlags({
    args,
    options: {
      ...CLIENT_OPTIONS,
      namespace: { type: "string", short: "n" },
      limit: { type: "string" },
      after: { type: "string" },
    },
  });
  const q = new URLSearchParams();
  if (values.namespace !== undefined) q.set("namespace", values.namespace);
  if (values.limit !== undefined) q.set("limit", values.limit);
  if (values.after !== undefined) q.set("after", values.after);
  const query = q.size > 0 ? `?${q}` : "";
  const reply = (await new RmClient(values).request("GET", `/api/v1/pods${query}`)) as {
    items: PodView[];
    next?: string;
  };
  if (values.json) return printJson(reply);
  const rows = reply.items.map((p) => [
    p.namespace,
    p.name,
    p.networks
      .map(
        (n) =>
          `${n.ifName}=${n.network}:${n.addresses.map((a) => a.address.split("/")[0]).join("+")}${n.master ? "*" : ""}`,
      )
      .join(" "),
    p.policy ?? "-",
    p.sticky ? "yes" : "no",
    p.containerId === undefined ? "-" : p.containerId.slice(0, 12),
  ]);
  process.stdout.write(
    table(["NAMESPACE", "NAME", "INTERFACES (* master)", "POLICY", "STICKY", "SANDBOX"], rows),
  );
  if (reply.next !== undefined) process.stdout.write(`more: --after ${reply.next}\n`);
};

const show = async (args: string[]) => {
  const { values, positionals } = parseFlags({ args, allowPositionals: true, options: CLIENT_OPTIONS });
  const pod = (await new RmClient(values).request("GET", path(onePod(positionals)))) as PodView;
  if (values.json) return printJson(pod);
  printPod(pod);
};

const remove = async (args: string[]) => {
  const { values, positionals } = parseFlags({ args, allowPositionals: true, options: CLIENT_OPTIONS });
  const ref = onePod(positionals);
  const pod = (await new RmClient(values).request("DELETE", path(ref))) as PodView;
  if (values.json) return printJson(pod);
  const ips = pod.networks.flatMap((n) => n.addresses.map((a) => a.address));
  process.stdout.write(`pod ${ref.namespace}/${ref.name} deleted; released ${ips.join(", ") || "nothing"}\n`);
};

const release = async (args: string[]) => {
  const { values, positionals } = parseFlags({
    args,
    allowPositionals: true,
    options: { ...CLIENT_OPTIONS, "container-id": { type: "string" } },
  });
  const ref = onePod(positionals);
  const body = values["container-id"] === undefined ? undefined : { containerId: values["container-id"] };
  const out = (await new RmClient(values).request("POST", `${path(ref)}/release`, body)) as {
    released: boolean;
    reason: string;
  };
  if (values.json) return printJson(out);
  process.stdout.write(
    `pod ${ref.namespace}/${ref.name}: ${out.released ? "released" : `kept (${out.reason})`}\n`,
  );
};

const gc = async (args: string[]) => {
  const { values, positionals } = parseFlags({
    args,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      node: { type: "string" },
      "listed-at": { type: "string" },
      kubernetes: { type: "boolean", default: false },
      "pods-file": { type: "string" },
      all: { type: "boolean", default: false },
      "kube-api": { type: "string" },
      "kube-token-file": { type: "string" },
      "kube-ca-file": { type: "string" },
    },
  });
  const client = new RmClient(values);
  const body: Record<string, unknown> = {};
  let listed = "";
  if (values.kubernetes) {
    if (
      positionals.length > 0 ||
      values["listed-at"] !== undefined ||
      values["pods-file"] !== undefined ||
      values.all
    ) {
      throw new UsageError(
        "--kubernetes reads the list and its time itself: give no pods, --pods-file, --all or --listed-at",
      );
    }
    // The RM's clock first: whatever attaches after it is kept, though the list cannot have it.
    body.listedAt = await client.time();
    const cluster = await listKubePods({
      api: values["kube-api"],
      tokenFile: values["kube-token-file"],
      caFile: values["kube-ca-file"],
    });
    // An API server that lists nothing is wrong (every cluster runs pods): releasing every pod on
    // its word would take the addresses of every running pod.
    if (cluster.length === 0)
      throw new Error("the cluster's API server listed no pod at all: nothing released");
    const running = cluster.filter(mayRun);
    body.pods = running.map((p) => `${p.namespace}/${p.name}`);
    listed = ` (the cluster lists ${cluster.length} pods, ${running.length} not finished)`;
  } else {
    if (
      values["kube-api"] !== undefined ||
      values["kube-token-file"] !== undefined ||
      values["kube-ca-file"] !== undefined
    )
      throw new UsageError("--kube-api, --kube-token-file and --kube-ca-file go with --kubernetes");
    const names = [...positionals];
    const file = values["pods-file"];
    if (file !== undefined) {
      let text: string;
      try {
        text = readFileSync(file === "-" ? 0 : file, "utf8");
      } catch (err) {
        throw new UsageError(`--pods-file ${file}: ${errorText(err)}`);
      }
      for (const line of text.split("\n")) if (line.trim() !== "") names.push(line.trim());
    }
    // An empty list releases every pod: a list that failed to come (a kubectl that failed in a
    // $(…)) must not read as "none runs".
    if (names.length === 0 && !values.all) {
      throw new UsageError(
        "no pod listed: that would release every releasing-policy pod; give the running pods (NS/NAME..., --pods-file), or --all if that is what you mean",
      );
    }
    if (names.length > 0 && values.all) throw new UsageError("--all goes with no pods listed");
    body.pods = names.map((p) => {
      const r = podRef(p);
      if (r.name.includes("/")) throw new UsageError(`"${p}" is not NAMESPACE/NAME`);
      return `${r.namespace}/${r.name}`;
    });
    if (values["listed-at"] !== undefined) body.listedAt = values["listed-at"];
  }
  if (values.node !== undefined) body.node = values.node;
  const out = (await client.request("POST", "/api/v1/gc", body)) as { released: string[] };
  if (values.json) return printJson(out);
  process.stdout.write(
    `${out.released.length === 0 ? "nothing to release" : `released ${out.released.join(", ")}`}${listed}\n`,
  );
};

export default function podsCommand(argv: string[]): Promise<number> {
  return runAdmin("pods", USAGE, { ...objectSubcommands({ create, list, show, remove }), release, gc }, argv);
}
