// fd-io.ts: whole-descriptor reads and writes, and dockin-cni's stdin read through them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readAllSync } from "../../src/cni/fd-io.ts";
import { PLUGIN } from "../plugin/harness.ts";

let tmp = "";
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "dockin-fdio-test-"));
});
after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const again = () => Object.assign(new Error("Resource temporarily unavailable"), { code: "EAGAIN" });

/** A read function that gives `steps` in turn: bytes, or an error to throw; then the end. */
function scripted(steps: (Uint8Array | Error)[]): (fd: number, into: Uint8Array) => number {
  return (_fd, into) => {
    const step = steps.shift();
    if (step === undefined) return 0;
    if (step instanceof Error) throw step;
    into.set(step);
    return step.length;
  };
}

describe("readAllSync", () => {
  it("waits while a non-blocking descriptor has nothing, and loses no byte around it", () => {
    const text = '{"name":"réseau-ü"}';
    const bytes = new TextEncoder().encode(text);
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of "é"
    const read = scripted([again(), bytes.slice(0, cut), again(), again(), bytes.slice(cut)]);
    assert.equal(readAllSync(0, read), text);
  });

  it("throws what is not EAGAIN", () => {
    const broken = Object.assign(new Error("Input/output error"), { code: "EIO" });
    assert.throws(() => readAllSync(0, scripted([new TextEncoder().encode("{"), broken])), /Input\/output/);
  });

  it("drops a byte order mark, as the stream reader does", () => {
    const read = scripted([new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])]);
    assert.equal(readAllSync(0, read), "{}");
  });

  it("reads a file larger than its buffer to the end", () => {
    const file = join(tmp, "big.json");
    const text = `{"pad":"${"x".repeat(200_000)}"}`;
    writeFileSync(file, text);
    const fd = openSync(file, "r");
    try {
      assert.equal(readAllSync(fd), text);
    } finally {
      closeSync(fd);
    }
  });
});

describe("dockin-cni reads its stdin whole", () => {
  const version = (shell: string) => {
    const out = spawnSync("sh", ["-c", shell, "sh", PLUGIN], {
      env: { PATH: process.env.PATH, CNI_COMMAND: "VERSION" },
      encoding: "utf8",
      timeout: 10_000,
    });
    assert.equal(out.status, 0, out.stderr);
    return JSON.parse(out.stdout) as { cniVersion: string; supportedVersions: string[] };
  };

  it("from a pipe whose writer is slow", () => {
    const reply = version(`(printf '{"cniVersion":'; sleep 0.3; printf '"0.4.0"}') | "$1"`);
    assert.equal(reply.cniVersion, "0.4.0");
  });

  it("from a non-blocking pipe whose writer is slow (EAGAIN until the config comes)", () => {
    // python3 sets O_NONBLOCK on the pipe's read end, then becomes the plugin.
    const nonBlocking =
      "import fcntl, os, sys; fcntl.fcntl(0, fcntl.F_SETFL, fcntl.fcntl(0, fcntl.F_GETFL) | os.O_NONBLOCK); os.execv(sys.argv[1], sys.argv[1:])";
    const reply = version(
      `(sleep 0.2; printf '{"cniVersion":'; sleep 0.3; printf '"0.3.1"}') | python3 -c '${nonBlocking}' "$1"`,
    );
    assert.equal(reply.cniVersion, "0.3.1");
  });
});
