// `dockin networks create|list|show|delete`: the RM's networks.
import { RmClient } from "../../rm/client.ts";
import type { NetworkView } from "../../rm/service.ts";
import { parseFlags } from "../args.ts";
import {
  CLIENT_OPTIONS,
  CLIENT_USAGE,
  deleteByName,
  enc,
  objectSubcommands,
  one,
  printJson,
  readBodyFile,
  runAdmin,
  table,
  UsageError,
} from "./admin.ts";

const USAGE = `usage: dockin networks <subcommand> [options]

  create NAME --subnet CIDR [--gateway IP] [--range-start IP] [--range-end IP] [--exclude IP]...
              [--subnet6 CIDR [--gateway6 IP] [--range-start6 IP] [--range-end6 IP] [--exclude6 IP]...]
              [--allow-overlap]   let the subnet overlap another network's (separate L2 domains)
  create NAME -f FILE       the JSON body of PUT /api/v1/networks/NAME ("-" reads stdin)
                            (create replaces an existing network of that name)
  list                      every network with its size and use
  show NAME
  delete NAME               refused while addresses are allocated

${CLIENT_USAGE}`;

function pool(values: Record<string, unknown>, suffix: string): Record<string, unknown> | undefined {
  const subnet = values[`subnet${suffix}`];
  const out: Record<string, unknown> = {};
  if (subnet !== undefined) out.subnet = subnet;
  for (const [flag, key] of [
    ["gateway", "gateway"],
    ["range-start", "rangeStart"],
    ["range-end", "rangeEnd"],
    ["exclude", "exclude"],
  ] as const) {
    const v = values[`${flag}${suffix}`];
    if (v !== undefined) out[key] = v;
  }
  if (Object.keys(out).length === 0) return undefined;
  if (subnet === undefined)
    throw new UsageError(`--subnet${suffix} is required with --gateway${suffix}, --range…`);
  return out;
}

const range = (p: { rangeStart?: string; rangeEnd?: string }): string =>
  p.rangeStart === undefined && p.rangeEnd === undefined
    ? "(subnet)"
    : `${p.rangeStart ?? "…"}-${p.rangeEnd ?? "…"}`;

const create = async (args: string[]) => {
  const { values, positionals } = parseFlags({
    args,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      file: { type: "string", short: "f" },
      subnet: { type: "string" },
      gateway: { type: "string" },
      "range-start": { type: "string" },
      "range-end": { type: "string" },
      exclude: { type: "string", multiple: true },
      subnet6: { type: "string" },
      gateway6: { type: "string" },
      "range-start6": { type: "string" },
      "range-end6": { type: "string" },
      exclude6: { type: "string", multiple: true },
      "allow-overlap": { type: "boolean" },
    },
  });
  const name = one(positionals, "network NAME");
  let body: unknown;
  if (values.file !== undefined) body = readBodyFile(values.file);
  else {
    const top = pool(values, "");
    if (top === undefined) throw new UsageError("--subnet (or -f FILE) is required");
    const v6 = pool(values, "6");
    body = v6 === undefined ? top : { ...top, ipv6: v6 };
  }
  if (values["allow-overlap"]) {
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw new UsageError("--allow-overlap needs a JSON object body");
    body = { ...body, allowOverlap: true };
  }
  const put = await new RmClient(values).put(`/api/v1/networks/${enc(name)}`, body);
  const net = put.body as NetworkView;
  if (values.json) return printJson(net);
  process.stdout.write(
    `network ${net.name} ${put.created ? "created" : "replaced (its earlier definition is gone)"}: ${net.subnet}${net.ipv6 ? ` + ${net.ipv6.subnet}` : ""}, ${net.size} addresses\n`,
  );
};

const list = async (args: string[]) => {
  const { values } = parseFlags({ args, options: CLIENT_OPTIONS });
  const { items } = (await new RmClient(values).request("GET", "/api/v1/networks")) as {
    items: NetworkView[];
  };
  if (values.json) return printJson(items);
  const rows = items.flatMap((n) => {
    const first = [
      n.name,
      n.subnet,
      n.gateway ?? "-",
      range(n),
      String(n.size),
      String(n.allocated),
      String(n.free),
    ];
    const v6 = n.ipv6;
    if (v6 === undefined) return [first];
    return [
      first,
      ["", v6.subnet, v6.gateway ?? "-", range(v6), String(v6.size), String(v6.allocated), String(v6.free)],
    ];
  });
  process.stdout.write(table(["NAME", "SUBNET", "GATEWAY", "RANGE", "SIZE", "USED", "FREE"], rows));
};

const show = async (args: string[]) => {
  const { values, positionals } = parseFlags({ args, allowPositionals: true, options: CLIENT_OPTIONS });
  const name = one(positionals, "network NAME");
  const n = (await new RmClient(values).request("GET", `/api/v1/networks/${enc(name)}`)) as NetworkView;
  if (values.json) return printJson(n);
  const lines: [string, string][] = [
    ["name", n.name],
    ["subnet", n.subnet],
    ["gateway", n.gateway ?? "-"],
    ["range", range(n)],
    ["exclude", (n.exclude ?? []).join(", ") || "-"],
    ["size", String(n.size)],
    ["allocated", String(n.allocated)],
    ["free", String(n.free)],
  ];
  if (n.ipv6 !== undefined) {
    const v6 = n.ipv6;
    lines.push(
      ["ipv6 subnet", v6.subnet],
      ["ipv6 gateway", v6.gateway ?? "-"],
      ["ipv6 range", range(v6)],
      ["ipv6 exclude", (v6.exclude ?? []).join(", ") || "-"],
      ["ipv6 size", String(v6.size)],
      ["ipv6 allocated", String(v6.allocated)],
      ["ipv6 free", String(v6.free)],
    );
  }
  lines.push(["created", n.created ?? "-"], ["updated", n.updated ?? "-"]);
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  process.stdout.write(lines.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}\n`).join(""));
};

const remove = deleteByName("network", "networks");

export default function networksCommand(argv: string[]): Promise<number> {
  return runAdmin("networks", USAGE, objectSubcommands({ create, list, show, remove }), argv);
}
