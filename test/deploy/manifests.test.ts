// deploy/kubernetes/ and the Dockerfile cannot be run here (no Docker engine, no cluster), so this
// checks what can be checked: the manifests parse, and they agree with the installer's paths and
// flags, the doctor's flags, the RM's flags and port, and the image's layout.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { DEFAULTS, parseInstallArgs } from "../../src/install/options.ts";
import { builtExecutable, root } from "../install/helpers.ts";

const PYTHON = "/usr/bin/python3";

const dir = join(root, "deploy", "kubernetes");
type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };
type Obj = { [key: string]: Yaml };

/**
 * The documents of a manifest as Kubernetes reads them: YAML 1.1, as sigs.k8s.io/yaml does (so
 * `0400` is octal). Any error or warning (a duplicate key, a tab in the indentation…) fails, with
 * the file and the line.
 */
function parseManifest(name: string, text: string): Yaml[] {
  const documents = parseAllDocuments(text, { version: "1.1", uniqueKeys: true, prettyErrors: true });
  const problems = [...documents].flatMap((d) => [...d.errors, ...d.warnings]);
  if (problems.length > 0) throw new Error(`${name}: ${problems.map((e) => e.message).join("\n")}`);
  return [...documents].map((d) => d.toJS() as Yaml);
}

function isObj(v: Yaml | undefined): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
/** The value at a dotted path (numbers index arrays), failing the test when absent. */
function at(v: Yaml | undefined, path: string): Yaml {
  let cur: Yaml | undefined = v;
  for (const part of path.split(".")) {
    if (Array.isArray(cur)) cur = cur[Number(part)];
    else if (isObj(cur)) cur = cur[part];
    else cur = undefined;
    assert.notEqual(cur, undefined, `missing ${path}`);
  }
  return cur as Yaml;
}
function objs(v: Yaml): Obj[] {
  assert.ok(Array.isArray(v));
  return v.filter(isObj);
}
function strings(v: Yaml): string[] {
  assert.ok(Array.isArray(v));
  return v.map(String);
}

const files = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort();
const docs = new Map(
  files.map((f) => [f, parseManifest(f, readFileSync(join(dir, f), "utf8")).filter(isObj)]),
);
const all = [...docs.values()].flat();
function find(file: string, kind: string, name: string): Obj {
  const d = docs.get(file)?.find((o) => o.kind === kind && isObj(o.metadata) && o.metadata.name === name);
  assert.ok(d !== undefined, `${file} has no ${kind} ${name}`);
  return d;
}
const podSpec = (o: Obj): Obj => at(o, "spec.template.spec") as Obj;
const flag = (args: string[], name: string): string | undefined =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

/**
 * Problems test/deploy/schema.py finds in the objects: Debian's python3-kubernetes (the official
 * client, whose models are generated from the API's OpenAPI spec) as the offline schema.
 * kubectl cannot do it offline: its validation fetches the schema from an API server.
 */
function checkSchemas(objects: Obj[]): string[] {
  const r = spawnSync(PYTHON, [join(root, "test", "deploy", "schema.py")], {
    encoding: "utf8",
    input: JSON.stringify(objects),
  });
  assert.equal(
    r.status,
    0,
    `the schema check needs python3-kubernetes (apt-get install python3-kubernetes)\n${r.stderr}`,
  );
  return JSON.parse(r.stdout) as string[];
}

const daemonSet = find("install-daemonset.yaml", "DaemonSet", "dockin-install");
const service = find("rm-service.yaml", "Service", "dockin-rm");
const rmSqlite = find("rm-sqlite.yaml", "Deployment", "dockin-rm");
const rmEtcd = find("rm-etcd.yaml", "Deployment", "dockin-rm");
const gcJob = find("gc-cronjob.yaml", "CronJob", "dockin-gc");
const gcPodSpec = at(gcJob, "spec.jobTemplate.spec.template.spec") as Obj;

describe("reading the manifests", () => {
  test("reads nested mappings, sequences of mappings, scalars and comments", () => {
    const [doc] = parseManifest(
      "t.yaml",
      "a: 1 # c\nb:\n  - x: \"q # not a comment\"\n    z: [1, two]\n  - plain: text with spaces\nc: true\nd: 'it''s'\n",
    );
    assert.deepEqual(doc, {
      a: 1,
      b: [{ x: "q # not a comment", z: [1, "two"] }, { plain: "text with spaces" }],
      c: true,
      d: "it's",
    });
  });
  test("reads scalars as Kubernetes does (YAML 1.1): 0400 is octal, yes is true", () => {
    assert.deepEqual(parseManifest("t.yaml", "mode: 0400\nenabled: yes\n"), [{ mode: 256, enabled: true }]);
  });
  const rejected: [string, string, RegExp][] = [
    ["a duplicate key", "a: 1\na: 2\n", /unique/i],
    ["a tab in the indentation", "a:\n\tb: 1\n", /tab/i],
    ["an unclosed quote", 'a: "x\n', /quot|missing/i],
  ];
  for (const [name, text, why] of rejected) {
    test(`rejects ${name}, naming the file and the line`, () =>
      assert.throws(
        () => parseManifest("bad.yaml", text),
        (err: unknown) =>
          err instanceof Error &&
          /^bad\.yaml: /.test(err.message) &&
          why.test(err.message) &&
          /line \d+/.test(err.message),
      ));
  }
});

describe("deploy/kubernetes", () => {
  test("every manifest parses, and agrees with PyYAML", () => {
    assert.ok(files.length >= 5, files.join(", "));
    for (const o of all.filter((o) => o.kind !== "Kustomization")) {
      assert.equal(typeof o.apiVersion, "string");
      assert.equal(typeof at(o, "metadata.name"), "string");
      // Every namespaced object in kube-system; the gc's ClusterRole and binding have no namespace.
      const clusterScoped = o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding";
      assert.equal(
        (o.metadata as Obj).namespace,
        clusterScoped ? undefined : "kube-system",
        `${String(o.kind)} ${String(at(o, "metadata.name"))}`,
      );
    }
    // Debian's own Python with Debian's PyYAML (python3-yaml, which ./dev installs).
    const py = spawnSync(PYTHON, ["-c", "import yaml"], { encoding: "utf8" });
    assert.equal(
      py.status,
      0,
      `PyYAML is needed for the cross-check: apt-get install python3-yaml\n${py.stderr}`,
    );
    for (const f of files) {
      const r = spawnSync(
        PYTHON,
        [
          "-c",
          "import json,sys,yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))",
          join(dir, f),
        ],
        { encoding: "utf8" },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), docs.get(f), `${f}: PyYAML reads it the same`);
    }
  });

  test("docs/kubernetes.md describes every manifest, and every kind they use", () => {
    const doc = readFileSync(join(root, "docs", "kubernetes.md"), "utf8");
    for (const f of files) assert.ok(doc.includes(`\`${f}\``), `docs/kubernetes.md names ${f}`);
    for (const o of all.filter((o) => o.kind !== "Kustomization"))
      assert.ok(doc.includes(String(o.kind)), `docs/kubernetes.md names the kind ${String(o.kind)}`);
  });

  test("every object matches the Kubernetes API's schema (python3-kubernetes' OpenAPI models, offline)", () => {
    const objects = all.filter((o) => o.kind !== "Kustomization");
    assert.ok(objects.length >= 7, `${objects.length} objects`);
    assert.deepEqual(checkSchemas(objects), []);
  });

  test("the schema check finds an unknown field, a wrong type, a missing required field and a kind outside its apiVersion", () => {
    const broken = JSON.parse(JSON.stringify(daemonSet)) as Obj;
    const spec = podSpec(broken);
    spec.hostNetwrok = true;
    const init = objs(at(spec, "initContainers"))[0]!;
    delete init.name;
    const main = objs(at(spec, "containers"))[0]!;
    main.ports = [{ containerPort: "10002" }];
    const problems = checkSchemas([
      broken,
      { apiVersion: "v1", kind: "Deployment", metadata: { name: "x" } },
    ]);
    assert.deepEqual(
      problems.sort(),
      [
        "0 DaemonSet/dockin-install: spec.template.spec.hostNetwrok: unknown field of V1PodSpec (did you mean hostNetwork?)",
        "0 DaemonSet/dockin-install: spec.template.spec.initContainers[0]: Invalid value for `name`, must not be `None`",
        '0 DaemonSet/dockin-install: spec.template.spec.containers[0].ports[0].containerPort: expected an integer, got "10002"',
        "1 Deployment/x: (object): the API has no kind Deployment in v1",
      ].sort(),
    );
  });

  test("the DaemonSet runs `dockin install` with the installer's flags and the seed's paths", () => {
    const init = objs(at(podSpec(daemonSet), "initContainers"))[0]!;
    assert.deepEqual(strings(at(init, "command")), ["dockin", "install"]);
    const args = strings(at(init, "args"));
    // Kubernetes expands $(VAR) from the container's env and the Services' variables.
    const env = new Map(objs(at(init, "env")).map((e) => [String(e.name), e]));
    const svcVar = `${String(at(service, "metadata.name")).toUpperCase().replaceAll("-", "_")}_SERVICE`;
    const expanded = args.map((a) =>
      a.replace(/\$\(([A-Z0-9_]+)\)/g, (_, v: string) => {
        if (v === `${svcVar}_HOST`) return "10.96.0.10";
        if (v === `${svcVar}_PORT`) return String(at(service, "spec.ports.0.port"));
        assert.ok(env.has(v), `$(${v}) is neither in env nor a Service variable`);
        return "test,dockin";
      }),
    );
    const opts = parseInstallArgs(expanded);
    assert.ok(opts !== undefined);
    assert.equal(opts.cniConfDir, resolve(DEFAULTS.cniConfDir));
    assert.equal(opts.binDir, DEFAULTS.binDir);
    assert.equal(opts.dockinConfDir, DEFAULTS.dockinConfDir);
    assert.equal(opts.webhook, "http://10.96.0.10:10002/rmController/getPodMultiNetwork");
    assert.deepEqual(opts.types, ["test", "dockin"]);
    const types = at(find("config.yaml", "ConfigMap", "dockin-install"), "data.NETWORK_TYPES");
    assert.equal(at(env.get("NETWORK_TYPES") ?? {}, "valueFrom.configMapKeyRef.key"), "NETWORK_TYPES");
    assert.equal(typeof types, "string");

    // Each install dir is a host path mounted at the same path, writable, in the init container.
    const volumes = new Map(objs(at(podSpec(daemonSet), "volumes")).map((v) => [String(v.name), v]));
    const mounts = objs(at(init, "volumeMounts"));
    for (const d of [opts.cniConfDir, opts.binDir, opts.dockinConfDir]) {
      const m = mounts.find((x) => x.mountPath === d);
      assert.ok(m !== undefined, `${d} is mounted in the install container`);
      assert.notEqual(m.readOnly, true);
      assert.equal(at(volumes.get(String(m.name)) ?? {}, "hostPath.path"), d, `${d} is the host's own ${d}`);
    }
    assert.equal(podSpec(daemonSet).hostNetwork, true);
    // An uplink's bridge and enslavement are made by install on the node's own links.
    assert.deepEqual(strings(at(init, "securityContext.capabilities.add")), ["NET_ADMIN"]);
  });

  test("the DaemonSet's readiness is `dockin doctor` on the same config dir, with the plugin's dirs mounted", () => {
    const main = objs(at(podSpec(daemonSet), "containers"))[0]!;
    const probe = strings(at(main, "readinessProbe.exec.command"));
    assert.deepEqual(probe.slice(0, 2), ["dockin", "doctor"]);
    assert.equal(flag(probe, "cni-conf-dir"), DEFAULTS.cniConfDir.replace(/\/$/, ""));
    const r = spawnSync(builtExecutable(), ["doctor", "--help"], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    for (const a of probe.slice(2)) assert.ok(r.stdout.includes(a.split("=")[0]!), `doctor knows ${a}`);
    const mounted = objs(at(main, "volumeMounts")).map((m) => String(m.mountPath));
    for (const d of [DEFAULTS.binDir, DEFAULTS.dockinConfDir, DEFAULTS.cacheDir, "/var/log"]) {
      assert.ok(mounted.includes(d), `${d} is mounted for the doctor`);
    }
  });

  for (const [name, rm] of [
    ["SQLite", rmSqlite],
    ["etcd", rmEtcd],
  ] as const) {
    test(`the ${name} RM serves on the Service's port with the RM's own flags`, () => {
      const c = objs(at(podSpec(rm), "containers"))[0]!;
      assert.deepEqual(strings(at(c, "command")), ["dockin", "rm", "serve"]);
      const args = strings(at(c, "args"));
      const usage = spawnSync(builtExecutable(), ["rm", "serve", "--help"], {
        encoding: "utf8",
      });
      assert.equal(usage.status, 0, usage.stderr);
      for (const a of args)
        assert.ok(usage.stdout.includes(`${a.split("=")[0]} `), `dockin rm serve knows ${a}`);
      const port = Number(flag(args, "listen")?.split(":").at(-1));
      assert.equal(port, 10002, "the seed's RM port");
      assert.equal(at(c, "ports.0.containerPort"), port);
      assert.equal(at(c, "ports.0.name"), at(service, "spec.ports.0.targetPort"));
      assert.equal(at(service, "spec.ports.0.port"), port);
      assert.equal(at(c, "readinessProbe.httpGet.port"), port);
      assert.deepEqual(at(rm, "spec.selector.matchLabels"), at(service, "spec.selector"));
      assert.equal(podSpec(rm).hostNetwork, true, "the RM must not need the CNI it serves");
      // The token file (and etcd's TLS files) live in mounted Secrets.
      const mounts = objs(at(c, "volumeMounts"));
      const files = ["token-file", "etcd-ca", "etcd-cert", "etcd-key"].flatMap((f) => flag(args, f) ?? []);
      assert.ok(files.length >= 1);
      for (const file of files) {
        const m = mounts.find((x) => file.startsWith(`${String(x.mountPath)}/`));
        assert.ok(m !== undefined, `${file} is on a volume`);
        const vol = objs(at(podSpec(rm), "volumes")).find((v) => v.name === m.name);
        assert.ok(at(vol ?? {}, "secret.secretName"), `${file} comes from a Secret`);
      }
      const store = flag(args, "store") ?? "";
      if (name === "SQLite") {
        assert.equal(at(rm, "spec.replicas"), 1);
        assert.equal(at(rm, "spec.strategy.type"), "Recreate", "never two writers on one SQLite file");
        const path = store.replace(/^sqlite:/, "");
        const m = mounts.find((x) => path.startsWith(`${String(x.mountPath)}/`));
        assert.ok(m !== undefined, `${path} is on a volume`);
        const vol = objs(at(podSpec(rm), "volumes")).find((v) => v.name === m.name);
        const claim = at(vol ?? {}, "persistentVolumeClaim.claimName");
        find("rm-sqlite.yaml", "PersistentVolumeClaim", String(claim));
      } else {
        assert.ok(Number(at(rm, "spec.replicas")) > 1);
        assert.match(store, /^etcd:\$\(ETCD_ENDPOINTS\)$/);
        const endpoints = String(
          at(find("rm-etcd.yaml", "ConfigMap", "dockin-rm-etcd"), "data.ETCD_ENDPOINTS"),
        );
        // etcd as it is usually run: TLS with client certificates.
        for (const e of endpoints.split(",")) assert.match(e, /^https:\/\//, e);
        for (const f of ["etcd-ca", "etcd-cert", "etcd-key"]) assert.ok(flag(args, f), `--${f} is given`);
      }
    });
  }

  test("the gc CronJob runs `dockin pods gc --kubernetes` against the RM's Service, and may list pods, nothing else", () => {
    const [container] = objs(at(gcPodSpec, "containers"));
    assert.ok(container !== undefined);
    assert.deepEqual(strings(at(container, "command")), ["dockin", "pods", "gc", "--kubernetes"]);
    const usage = spawnSync(builtExecutable(), ["pods", "--help"], { encoding: "utf8" });
    assert.match(usage.stdout, /gc --kubernetes/, "the executable has the flag");
    const env = new Map(objs(at(container, "env")).map((e) => [String(e.name), String(e.value)]));
    const svcVar = `${String(at(service, "metadata.name")).toUpperCase().replaceAll("-", "_")}_SERVICE`;
    assert.equal(env.get("DOCKIN_SERVER"), `http://$(${svcVar}_HOST):$(${svcVar}_PORT)`);
    // The token: the RM's own Secret, mounted where DOCKIN_TOKEN_FILE says.
    const mount = objs(at(container, "volumeMounts"))[0]!;
    assert.equal(env.get("DOCKIN_TOKEN_FILE"), `${String(mount.mountPath)}/token`);
    const volume = objs(at(gcPodSpec, "volumes")).find((v) => v.name === mount.name);
    const rmVolumes = objs(at(podSpec(rmSqlite), "volumes"));
    assert.equal(
      at(volume, "secret.secretName"),
      at(
        rmVolumes.find((v) => v.name === "token"),
        "secret.secretName",
      ),
    );
    assert.equal(at(gcJob, "spec.concurrencyPolicy"), "Forbid");
    assert.equal(at(gcPodSpec, "restartPolicy"), "Never");
    // Least privilege: its ServiceAccount may list pods and do nothing else.
    const account = String(at(gcPodSpec, "serviceAccountName"));
    find("gc-cronjob.yaml", "ServiceAccount", account);
    const binding = find("gc-cronjob.yaml", "ClusterRoleBinding", "dockin-gc");
    assert.deepEqual(at(binding, "subjects"), [
      { kind: "ServiceAccount", name: account, namespace: "kube-system" },
    ]);
    const role = find("gc-cronjob.yaml", "ClusterRole", String(at(binding, "roleRef.name")));
    assert.deepEqual(at(role, "rules"), [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }]);
    // Nothing else in deploy/kubernetes talks to the API server, and no other pod gets a token.
    const accounts = all.filter((o) => o.kind === "ServiceAccount").map((o) => at(o, "metadata.name"));
    assert.deepEqual(accounts, [account]);
    for (const o of [daemonSet, rmSqlite, rmEtcd])
      assert.equal(podSpec(o).automountServiceAccountToken, false, `${String(o.kind)} mounts no token`);
    assert.notEqual(gcPodSpec.automountServiceAccountToken, false, "the gc job has its token");
  });

  test("every container runs the one image, whose Dockerfile installs the standalone executable as dockin", () => {
    const images = new Set(
      [daemonSet, rmSqlite, rmEtcd, { spec: { template: { spec: gcPodSpec } } } as Obj].flatMap((o) =>
        ["initContainers", "containers"].flatMap((k) => {
          const list = podSpec(o)[k];
          return list === undefined ? [] : objs(list).map((c) => String(c.image));
        }),
      ),
    );
    assert.deepEqual([...images], ["dockin"]);
    const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
    assert.match(dockerfile, /RUN npm run build/);
    assert.match(dockerfile, /COPY --from=build \/src\/dist\/bin\/dockin \/usr\/local\/bin\/dockin/);
    const instructions = dockerfile
      .split("\n")
      .filter((l) => !l.trimStart().startsWith("#"))
      .join("\n");
    assert.doesNotMatch(instructions, /\bstrip\b/, "a stripped executable crashes");
    const runtime = instructions.slice(instructions.lastIndexOf("FROM "));
    assert.match(
      runtime,
      /apt-get install[^\n]*\biproute2\b/,
      "install and doctor read the node's links with ip",
    );
    const kustomization = docs.get("kustomization.yaml")?.[0];
    for (const r of strings(at(kustomization, "resources"))) assert.ok(existsSync(join(dir, r)), r);
    assert.equal(at(kustomization, "images.0.name"), "dockin");
  });
});
