// Graceful close: a request in flight when the close starts still completes (told to close its
// connection); new connections are refused; the close resolves once it is done.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { startRm } from "./helpers.ts";

describe("graceful close", () => {
  it("lets a request in flight finish, then stops", async () => {
    const rm = await startRm();
    try {
      const { port } = new URL(rm.url);
      const socket = connect(Number(port), "127.0.0.1");
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      const body = JSON.stringify({ subnet: "10.0.0.0/24" });
      let reply = "";
      socket.on("data", (c: Buffer) => {
        reply += c.toString();
      });
      const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      // Headers and half the body: the request is in flight.
      socket.write(
        `PUT /api/v1/networks/late HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
      );
      await new Promise((r) => setTimeout(r, 50));
      let closed = false;
      const closing = rm.server.close(5000).then(() => {
        closed = true;
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(closed, false, "the close waited for the request in flight");
      await assert.rejects(fetch(`${rm.url}/healthz`), "a new connection is refused");
      socket.write(body.slice(5));
      await ended;
      await closing;
      assert.match(reply, /^HTTP\/1\.1 201 /);
      assert.match(reply, /\r\nconnection: close\r\n/i);
      assert.equal((await rm.store.getNetwork("late"))?.spec.subnet, "10.0.0.0/24");
    } finally {
      await rm.store.close();
      rmSync(rm.dir, { recursive: true, force: true });
    }
  });
});
