// The run's leak check (test/leaks.ts, used by scripts/test.ts) finds what a run made and left:
// here a namespace, a link and an orphaned stand-in process named with a tag of this test's own,
// and a temp dir named as the suite names its own, and it counts nothing of another tag. Everything made here is removed at the end.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { leftovers, newTag, snapshot, splitRule } from "./leaks.ts";

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { PATH: process.env.PATH, ...env } });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

test("the leak check lists a namespace, a link, an orphaned process of its tag and a temp dir, and nothing of another tag", (ctx) => {
  const tag = newTag();
  let other = newTag();
  while (other === tag) other = newTag();
  const before = snapshot(tag);
  let pid = 0;
  const ns = `dk-${tag}leak`;
  const link = `dk${tag}leak`;
  const foreign = `dk-${other}leak`;
  ctx.after(() => {
    spawnSync("ip", ["netns", "del", ns]);
    spawnSync("ip", ["netns", "del", foreign]);
    spawnSync("ip", ["link", "del", link]);
    if (pid > 0) spawnSync("kill", ["-KILL", String(pid)]);
  });
  sh("ip", ["netns", "add", ns]);
  sh("ip", ["netns", "add", foreign]);
  sh("ip", ["link", "add", link, "type", "veth", "peer", "name", `dk${tag}peer`]);
  // A stand-in whose parent exits at once: the sleep is left to init, as after a SIGKILL.
  pid = Number(sh("sh", ["-c", "sleep 341 >/dev/null 2>&1 & echo $!"], { DOCKIN_TEST_RUN: tag }).trim());
  const temp = mkdtempSync(join(tmpdir(), "dockin-leak-"));
  ctx.after(() => rmSync(temp, { recursive: true, force: true }));
  const left = leftovers(tag, before, snapshot(tag));
  assert.ok(left.includes(`temp ${temp}`), left.join("\n"));
  assert.ok(left.includes(`network namespace ${ns}`), left.join("\n"));
  assert.ok(left.includes(`link ${link}`), left.join("\n"));
  assert.ok(left.includes(`process ${pid} (parent 1): sleep 341`), left.join("\n"));
  assert.ok(!left.some((l) => l.includes(other)), "another run's namespace is not counted");
});

test("splits an iptables -S rule into arguments, keeping a quoted comment whole", () => {
  assert.deepEqual(
    splitRule('-D POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ'),
    [
      "-D",
      "POSTROUTING",
      "-m",
      "comment",
      "--comment",
      "CNI portfwd requiring masquerade",
      "-j",
      "CNI-HOSTPORT-MASQ",
    ],
  );
});

test("removes portmap's shared chains the run made once idle, and keeps them while a container uses them", (ctx) => {
  // In a namespace of its own: its iptables are its own, so the host's chains are never touched.
  const ns = `dk-${newTag()}pm`;
  sh("ip", ["netns", "add", ns]);
  ctx.after(() => spawnSync("ip", ["netns", "del", ns]));
  const ipt = (...args: string[]) => sh("ip", ["netns", "exec", ns, "iptables", "-w", "-t", "nat", ...args]);
  // What portmap 1.1 makes at a host's first ADD.
  for (const c of ["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ"]) ipt("-N", c);
  ipt("-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT");
  ipt("-A", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT");
  ipt(
    "-A",
    "POSTROUTING",
    "-m",
    "comment",
    "--comment",
    "CNI portfwd requiring masquerade",
    "-j",
    "CNI-HOSTPORT-MASQ",
  );
  ipt("-A", "CNI-HOSTPORT-MASQ", "-m", "mark", "--mark", "0x2000/0x2000", "-j", "MASQUERADE");
  ipt("-A", "CNI-HOSTPORT-DNAT", "-p", "tcp", "-m", "comment", "--comment", "a container", "-j", "RETURN");
  const remove = () =>
    sh("ip", [
      "netns",
      "exec",
      ns,
      process.execPath,
      "--input-type=module",
      "-e",
      `import { removeIdlePortmapChains } from ${JSON.stringify(new URL("./leaks.ts", import.meta.url).href)};
       const none = { namespaces: new Set(), links: new Set(), iptables: new Set(), processes: new Map() };
       console.log(removeIdlePortmapChains(none).length);`,
    ]).trim();
  assert.equal(remove(), "0", "a container's rule is there: nothing removed");
  assert.match(ipt("-S"), /-N CNI-HOSTPORT-DNAT/);
  ipt("-F", "CNI-HOSTPORT-DNAT");
  assert.notEqual(remove(), "0");
  assert.doesNotMatch(ipt("-S"), /CNI-HOSTPORT/);
});
