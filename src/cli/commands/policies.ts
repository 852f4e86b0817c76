// `dockin policies create|list|show|delete`: rules that give unregistered pods their networks.
import { RmClient } from "../../rm/client.ts";
import type { Policy } from "../../rm/model.ts";
import { parseFlags } from "../args.ts";
import {
  CLIENT_OPTIONS,
  CLIENT_USAGE,
  deleteByName,
  enc,
  objectSubcommands,
  one,
  parseAttachment,
  printJson,
  readBodyFile,
  runAdmin,
  table,
  UsageError,
} from "./admin.ts";

const USAGE = `usage: dockin policies <subcommand> [options]

  create NAME [--namespace NS] [--prefix POD-PREFIX] --network NET[,ifName=IF][,master]...
              [--sticky] [--priority N]
                            pods matching the namespace and/or the name prefix get these networks on
                            their first webhook query; --sticky keeps their addresses when they go
  create NAME -f FILE       the JSON body of PUT /api/v1/policies/NAME ("-" reads stdin)
  list
  show NAME
  delete NAME               (pods already created keep their addresses)

${CLIENT_USAGE}`;

const nets = (p: Policy) =>
  p.networks
    .map((n) => `${n.network}${n.ifName === undefined ? "" : `(${n.ifName})`}${n.master ? "*" : ""}`)
    .join(" ");

const create = async (args: string[]) => {
  const { values, positionals } = parseFlags({
    args,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      file: { type: "string", short: "f" },
      namespace: { type: "string", short: "n" },
      prefix: { type: "string" },
      network: { type: "string", multiple: true },
      sticky: { type: "boolean" },
      priority: { type: "string" },
    },
  });
  const name = one(positionals, "policy NAME");
  let body: unknown;
  if (values.file !== undefined) body = readBodyFile(values.file);
  else {
    if (values.network === undefined) throw new UsageError("--network (or -f FILE) is required");
    const b: Record<string, unknown> = {
      networks: values.network.map((n) => parseAttachment(n, false)),
      sticky: values.sticky === true,
    };
    if (values.namespace !== undefined) b.namespace = values.namespace;
    if (values.prefix !== undefined) b.podPrefix = values.prefix;
    if (values.priority !== undefined) {
      const n = Number(values.priority);
      if (!Number.isInteger(n)) throw new UsageError(`--priority "${values.priority}" is not an integer`);
      b.priority = n;
    }
    body = b;
  }
  const put = await new RmClient(values).put(`/api/v1/policies/${enc(name)}`, body);
  const policy = put.body as Policy;
  if (values.json) return printJson(policy);
  process.stdout.write(
    `policy ${policy.name} ${put.created ? "created" : "replaced (its earlier definition is gone)"}: ${nets(policy)}${policy.sticky ? " (sticky)" : ""}\n`,
  );
};

const list = async (args: string[]) => {
  const { values } = parseFlags({ args, options: CLIENT_OPTIONS });
  const { items } = (await new RmClient(values).request("GET", "/api/v1/policies")) as { items: Policy[] };
  if (values.json) return printJson(items);
  const rows = items.map((p) => [
    p.name,
    p.namespace ?? "*",
    p.podPrefix === undefined ? "*" : `${p.podPrefix}*`,
    nets(p),
    p.sticky ? "yes" : "no",
    String(p.priority),
  ]);
  process.stdout.write(
    table(["NAME", "NAMESPACE", "PODS", "NETWORKS (* master)", "STICKY", "PRIORITY"], rows),
  );
};

const show = async (args: string[]) => {
  const { values, positionals } = parseFlags({ args, allowPositionals: true, options: CLIENT_OPTIONS });
  const p = (await new RmClient(values).request(
    "GET",
    `/api/v1/policies/${enc(one(positionals, "policy NAME"))}`,
  )) as Policy;
  if (values.json) return printJson(p);
  process.stdout.write(
    `${[
      `name:      ${p.name}`,
      `namespace: ${p.namespace ?? "(any)"}`,
      `pods:      ${p.podPrefix === undefined ? "(any)" : `${p.podPrefix}*`}`,
      `networks:  ${nets(p)}`,
      `sticky:    ${p.sticky ? "yes: addresses kept when the pod goes" : "no: addresses released when the pod goes"}`,
      `priority:  ${p.priority}`,
    ].join("\n")}\n`,
  );
};

const remove = deleteByName("policy", "policies");

export default function policiesCommand(argv: string[]): Promise<number> {
  return runAdmin("policies", USAGE, objectSubcommands({ create, list, show, remove }), argv);
}
