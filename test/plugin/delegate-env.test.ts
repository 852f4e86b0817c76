// What a network's delegates get in their environment (src/plugin/delegate.ts): the plugin whose
// IPAM is dockin-ipam gets BUN_JSC_useJIT=0 and MIMALLOC_PURGE_DELAY=-1 on top, to pass on to it;
// the other plugins of the chain do not (another plugin's Bun may not know the JSC option, and Bun
// refuses to start on one it does not know). Fake delegates record what they get.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Logger } from "../../src/cni/log.ts";
import { addChain, type DelegateContext, delChain, IPAM_ENV, IPAM_TYPE } from "../../src/plugin/delegate.ts";
import type { RecordNetwork } from "../../src/plugin/record.ts";

const FAKE = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "fake-plugin");
let bin = "";
before(() => {
  bin = mkdtempSync(join(tmpdir(), "dockin-delegate-env-"));
  symlinkSync(FAKE, join(bin, "fake-bridge"));
  symlinkSync(FAKE, join(bin, "fake-tuning"));
});
after(() => rmSync(bin, { recursive: true, force: true }));

const result = { cniVersion: "1.0.0", ips: [{ address: "10.9.0.2/24" }] };

function network(ipamType: string): RecordNetwork {
  const fake = (name: string) => ({ record: join(bin, `${name}.json`), stdout: result });
  return {
    name: "net",
    ifName: "eth0",
    master: true,
    addresses: [{ address: "10.9.0.2/24", family: 4 }],
    plugins: [
      {
        type: "fake-bridge",
        cniVersion: "1.0.0",
        config: {
          cniVersion: "1.0.0",
          name: "net",
          type: "fake-bridge",
          ipam: { type: ipamType },
          fake: fake("bridge"),
        },
      },
      {
        type: "fake-tuning",
        cniVersion: "1.0.0",
        config: { cniVersion: "1.0.0", name: "net", type: "fake-tuning", fake: fake("tuning") },
      },
    ],
  };
}

const ctx = (): DelegateContext => ({
  containerId: "c1",
  netns: "/var/run/netns/none",
  args: "IgnoreUnknown=1",
  path: [bin],
  timeoutMs: 20_000,
  log: new Logger({}, { stderr: false }),
});

const envOf = (name: string): Record<string, string> =>
  JSON.parse(readFileSync(join(bin, `${name}.json`), "utf8")).env;

describe("a chain's delegates and Bun's JIT", () => {
  for (const verb of ["ADD", "DEL"] as const) {
    it(`${verb}: the plugin running dockin-ipam gets BUN_JSC_useJIT=0 and MIMALLOC_PURGE_DELAY=-1 to pass on; the next one does not`, async () => {
      const net = network(IPAM_TYPE);
      if (verb === "ADD") await addChain(net, ctx());
      else {
        net.result = result;
        await delChain(net, ctx());
      }
      assert.equal(envOf("bridge").BUN_JSC_useJIT, "0");
      assert.equal(envOf("bridge").MIMALLOC_PURGE_DELAY, "-1");
      assert.deepEqual(Object.keys(IPAM_ENV).sort(), ["BUN_JSC_useJIT", "MIMALLOC_PURGE_DELAY"]);
      assert.equal(envOf("bridge").CNI_COMMAND, verb);
      assert.equal("BUN_JSC_useJIT" in envOf("tuning"), false);
      assert.equal("MIMALLOC_PURGE_DELAY" in envOf("tuning"), false);
    });
  }
  it("a plugin with another IPAM does not get it", async () => {
    await addChain(network("host-local"), ctx());
    assert.equal("BUN_JSC_useJIT" in envOf("bridge"), false);
    assert.equal("MIMALLOC_PURGE_DELAY" in envOf("bridge"), false);
  });
});
