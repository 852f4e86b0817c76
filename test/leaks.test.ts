// The run's leak check (test/leaks.ts, used by scripts/test.ts) finds what a run made and left:
// here a namespace, a link and an orphaned stand-in process named with a tag of this test's own,
// and it counts nothing of another tag. Everything made here is removed at the end.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { leftovers, newTag, snapshot, splitRule } from "./leaks.ts";

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { PATH: process.env.PATH, ...env } });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

test("the leak check lists a namespace, a link and an orphaned process of its tag, and nothing of another", (ctx) => {
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
  const left = leftovers(tag, before, snapshot(tag));
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
