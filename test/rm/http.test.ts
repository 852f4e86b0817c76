// The RM's HTTP edges, over raw sockets: what a client may send that fetch does not (chunked
// bodies, HTTP/1.0 without Host, HEAD) and how the server answers it.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { streamLogger } from "../../src/rm/log.ts";
import { RmServer } from "../../src/rm/server.ts";
import { RmService } from "../../src/rm/service.ts";
import { openSqliteStore } from "../../src/rm/sqlite-store.ts";
import { type Rm, startRm } from "./helpers.ts";

/** Writes `parts` one after the other on a new connection; resolves with all it read once it closes (or after `ms`). */
function exchange(url: string, parts: string[], ms = 2000): Promise<{ text: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      for (const part of parts) socket.write(part);
    });
    let text = "";
    socket.on("data", (c: Buffer) => {
      text += c.toString();
    });
    socket.on("error", reject);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, ms);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
  });
}

describe("the RM's HTTP edges", () => {
  let rm: Rm;
  before(async () => {
    rm = await startRm();
  });
  after(async () => {
    await rm.stop();
  });

  it("refuses a chunked body over 1 MiB with 413 as it arrives, and closes the connection", async () => {
    const chunk = "x".repeat(600 * 1024);
    const framed = `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    const { text, closed } = await exchange(rm.url, [
      "PUT /api/v1/networks/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
      framed,
      framed,
      "0\r\n\r\n",
    ]);
    assert.match(text, /^HTTP\/1\.1 413 /);
    assert.match(text, /\r\nconnection: close\r\n/i);
    assert.match(text, /"reason":"PayloadTooLarge"/);
    assert.equal(closed, true);
    assert.equal((await rm.call("GET", "/api/v1/networks/big")).status, 404);
  });

  it("reads a chunked body within the limit", async () => {
    const body = JSON.stringify({ subnet: "10.1.0.0/24" });
    const { text } = await exchange(
      rm.url,
      [
        "PUT /api/v1/networks/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        `5\r\n${body.slice(0, 5)}\r\n`,
        `${(body.length - 5).toString(16)}\r\n${body.slice(5)}\r\n0\r\n\r\n`,
      ],
      500,
    );
    assert.match(text, /^HTTP\/1\.1 201 /);
    assert.equal((await rm.call("GET", "/api/v1/networks/chunked")).status, 200);
  });

  it("routes an HTTP/1.0 request without Host by its path and query", async () => {
    const { text } = await exchange(rm.url, [
      "GET /rmController/getPodMultiNetwork?podName=nobody HTTP/1.0\r\n\r\n",
    ]);
    assert.match(text, /^HTTP\/1\.1 404 /);
    assert.match(text, /pod default\/nobody is not registered/);
  });

  it("answers HEAD with the GET's status and length, without a body", async () => {
    const get = await exchange(rm.url, ["GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]);
    const head = await exchange(rm.url, ["HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]);
    const length = (t: string) => /\r\ncontent-length: (\d+)\r\n/i.exec(t)?.[1];
    assert.match(head.text, /^HTTP\/1\.1 200 /);
    assert.equal(length(head.text), length(get.text));
    assert.equal(head.text.split("\r\n\r\n")[1], "");
  });
});

describe("a client that goes away in the middle of its body", () => {
  // Not a fault of the RM's: logged as the request it was (400), never as a 500 "request failed".
  for (const [framing, head, part] of [
    ["a declared length", "Content-Length: 1000\r\n", '{"subnet":'],
    ["chunks", "Transfer-Encoding: chunked\r\n", 'a\r\n{"subnet":\r\n'],
  ] as const) {
    it(`with ${framing}: a 400 in the log, no error`, async () => {
      const lines: string[] = [];
      const store = await openSqliteStore(":memory:");
      const server = new RmServer({
        service: new RmService(store),
        logger: streamLogger("info", {}, (line) => lines.push(line)),
      });
      await server.listen("127.0.0.1", 0);
      try {
        await exchange(
          server.url,
          [
            `PUT /api/v1/networks/cut HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${head}\r\n${part}`,
          ],
          100, // then the socket is destroyed: the body never ends
        );
        const logged = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
        for (let i = 0; i < 50 && !logged().some((l) => l.msg === "request"); i++) {
          await new Promise((r) => setTimeout(r, 20));
        }
        const request = logged().find((l) => l.msg === "request");
        assert.equal(request?.status, 400, lines.join(""));
        assert.equal(logged().filter((l) => l.level === "error").length, 0, lines.join(""));
      } finally {
        await server.close();
        await store.close();
      }
    });
  }
});
