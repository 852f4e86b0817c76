// The plugin's two HTTP clients against real servers on port 0: the runtime's fetch
// (src/plugin/http-fetch.ts) and the plain-http GET on its own socket (src/plugin/http-raw.ts), the
// same cases for both: every way a reply's body can be delimited, informational replies, size caps,
// broken servers. Then what only one of them does.
import assert from "node:assert/strict";
import { createServer as createHttp } from "node:http";
import { createServer as createNet, type Server, type Socket } from "node:net";
import { describe, test } from "node:test";
import {
  type Exchange,
  fetchExchange,
  type Reply,
  TooLarge,
  TransportError,
} from "../../src/plugin/http-fetch.ts";
import { NeedsFetch, rawApplies, rawExchange } from "../../src/plugin/http-raw.ts";
import { callWebhook } from "../../src/plugin/webhook.ts";

type Client = (ex: Exchange, onCancel: (cancel: () => void) => void) => Promise<Reply>;
const CLIENTS: [string, Client][] = [
  ["fetch", fetchExchange],
  ["its own socket", rawExchange],
];

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as { port: number }).port;
}
async function close(server: Server): Promise<void> {
  (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
  await new Promise<void>((r) => server.close(() => r()));
}
/** A raw TCP server that answers every connection with `raw` (then closes, unless `keepOpen`). */
async function rawServer(
  raw: string | Buffer,
  keepOpen = false,
): Promise<{ port: number; server: Server; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createNet((s) => {
    sockets.push(s);
    s.once("data", () => (keepOpen ? s.write(raw) : s.end(raw)));
    s.on("error", () => {});
  });
  return { port: await listen(server), server, sockets };
}
const getWith =
  (exchange: Client) =>
  (port: number, max = 1000, path = "/x?a=1") =>
    exchange(
      {
        method: "GET",
        url: new URL(`http://127.0.0.1:${port}${path}`),
        headers: { accept: "application/json" },
        maxBodyBytes: max,
      },
      () => {},
    );

for (const [client, exchange] of CLIENTS) {
  const get = getWith(exchange);
  // Its own socket sends GETs only (rawApplies): a body goes through fetch.
  const sendsBody = exchange === fetchExchange;
  describe(`the webhook client (${client})`, () => {
    test("reads a content-length reply and sends method, path, query, headers and body", async () => {
      let seen = "";
      const server = createHttp((req, res) => {
        let body = "";
        req.on("data", (c: Buffer) => (body += c));
        req.on("end", () => {
          seen = `${req.method} ${req.url} ${req.headers["x-t"]} ${body}`;
          res.writeHead(201, { "content-type": "application/json" });
          res.end('{"ok":true}');
        });
      });
      const port = await listen(server);
      try {
        const reply = await exchange(
          {
            method: sendsBody ? "POST" : "GET",
            url: new URL(`http://127.0.0.1:${port}/p?q=%20x`),
            headers: { "x-t": "1" },
            ...(sendsBody ? { body: '{"a":1}' } : {}),
            maxBodyBytes: 100,
          },
          () => {},
        );
        assert.equal(reply.status, 201);
        assert.equal(reply.body, '{"ok":true}');
        assert.equal(reply.headers.get("content-type"), "application/json");
        assert.equal(seen, sendsBody ? 'POST /p?q=%20x 1 {"a":1}' : "GET /p?q=%20x 1 ");
      } finally {
        await close(server);
      }
    });

    test("reads a chunked reply written in several pieces", async () => {
      const server = createHttp((_req, res) => {
        res.writeHead(200);
        res.write('{"a":');
        setTimeout(() => res.end('"é"}'), 20);
      });
      const port = await listen(server);
      try {
        const reply = await get(port);
        assert.equal(reply.body, '{"a":"é"}');
      } finally {
        await close(server);
      }
    });

    test("reads a reply delimited by the server closing the connection", async () => {
      const { port, server } = await rawServer(
        'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"x":1}',
      );
      try {
        assert.equal((await get(port)).body, '{"x":1}');
      } finally {
        await close(server);
      }
    });

    test("does not wait for the server to close once content-length bytes are in", async () => {
      const { port, server } = await rawServer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", true);
      try {
        assert.equal((await get(port)).body, "{}");
      } finally {
        await close(server);
      }
    });

    test("skips a 103 Early Hints sent before the final reply", async () => {
      const server = createHttp((_req, res) => {
        res.writeEarlyHints({ link: "</style.css>; rel=preload; as=style" }, () => {
          setTimeout(() => {
            res.writeHead(200, { "content-type": "application/json" });
            res.end('{"final":true}');
          }, 20);
        });
      });
      const port = await listen(server);
      try {
        const reply = await get(port);
        assert.equal(reply.status, 200);
        assert.equal(reply.body, '{"final":true}');
        assert.equal(reply.headers.get("link"), undefined);
      } finally {
        await close(server);
      }
    });

    test("skips several informational replies that arrive with the final reply in one piece", async () => {
      const { port, server } = await rawServer(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
          "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}",
        true,
      );
      try {
        const reply = await get(port);
        assert.equal(reply.status, 202);
        assert.equal(reply.body, "{}");
      } finally {
        await close(server);
      }
    });

    const refusals: [string, string | Buffer, typeof TooLarge | typeof TransportError, RegExp][] = [
      [
        "refuses a content-length above the cap before reading the body",
        "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{",
        TooLarge,
        /larger than 1000/,
      ],
      [
        "refuses a chunked body above the cap",
        `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${"400\r\n".concat("x".repeat(1024), "\r\n")}0\r\n\r\n`,
        TooLarge,
        /larger than 1000/,
      ],
      [
        "refuses a close-delimited body above the cap",
        `HTTP/1.1 200 OK\r\n\r\n${"x".repeat(3000)}`,
        TooLarge,
        /larger than 1000/,
      ],
      [
        "reports a connection closed in the middle of the body",
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{",
        TransportError,
        /./,
      ],
      ["reports a reply that is not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", TransportError, /./],
      ["reports a connection closed before any reply", "", TransportError, /ECONNRESET|closed/],
      [
        "reports a connection closed after an informational reply only",
        "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
        TransportError,
        /./,
      ],
      [
        "refuses a switch of protocols that was not asked for",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        TransportError,
        /./,
      ],
      [
        "reports malformed chunked encoding",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        TransportError,
        /./,
      ],
    ];
    for (const [name, raw, type, msg] of refusals) {
      test(name, async () => {
        const { port, server } = await rawServer(raw);
        try {
          await assert.rejects(
            get(port),
            (err: unknown) => err instanceof type && msg.test((err as Error).message),
          );
        } finally {
          await close(server);
        }
      });
    }

    test("reports a refused connection as a transport error", async () => {
      const { port, server } = await rawServer("");
      await close(server);
      await assert.rejects(get(port), TransportError);
    });

    test("refuses a header value with a line break (no request smuggling)", async () => {
      const { port, server } = await rawServer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
      try {
        await assert.rejects(
          exchange(
            {
              method: "GET",
              url: new URL(`http://127.0.0.1:${port}/`),
              headers: { a: "b\r\nx: y" },
              maxBodyBytes: 10,
            },
            () => {},
          ),
          /invalid value|line break/,
        );
      } finally {
        await close(server);
      }
    });

    test("reads a chunked reply that arrives a byte at a time, informational reply first", async () => {
      const reply = Buffer.from(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n" +
          '4;ext=1\r\n{"a"\r\n6\r\n:"é"}\r\n0\r\nTrailer-X: y\r\n\r\n',
      );
      const server = createNet((sock) => {
        sock.on("error", () => {});
        sock.once("data", async () => {
          for (const byte of reply) {
            sock.write(Buffer.from([byte]));
            await new Promise((r) => setImmediate(r));
          }
        });
      });
      const port = await listen(server);
      try {
        const got = await get(port);
        assert.equal(got.status, 200);
        assert.equal(got.body, '{"a":"é"}');
        assert.equal(got.headers.get("x-a"), "1");
      } finally {
        await close(server);
      }
    });

    const tolerated: [string, string, string][] = [
      ["reads header lines ended by a bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\n{}", "{}"],
      [
        "takes a content-length sent twice with the same value",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        "{}",
      ],
      [
        "ends a chunked body at a close right after the last chunk",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n",
        "{}",
      ],
      [
        "reads an empty content-encoding as none",
        "HTTP/1.1 200 OK\r\nContent-Encoding:\r\nContent-Length: 2\r\n\r\n{}",
        "{}",
      ],
    ];
    for (const [name, raw, body] of tolerated) {
      test(name, async () => {
        const { port, server } = await rawServer(raw);
        try {
          assert.equal((await get(port)).body, body);
        } finally {
          await close(server);
        }
      });
    }

    test("sends a Latin-1 header value as Latin-1 and refuses what is beyond, or a bad name", async () => {
      let seen: string | undefined;
      const server = createHttp((req, res) => {
        seen = req.headers["x-t"] as string | undefined;
        res.end("{}");
      });
      const port = await listen(server);
      const ask = (headers: Record<string, string>) =>
        exchange(
          { method: "GET", url: new URL(`http://127.0.0.1:${port}/`), headers, maxBodyBytes: 10 },
          () => {},
        );
      try {
        await ask({ "x-t": "tök" });
        assert.equal(seen, "tök");
        await assert.rejects(ask({ "x-t": "令" }), TransportError);
        await assert.rejects(ask({ "x t": "1" }), TransportError);
      } finally {
        await close(server);
      }
    });

    test("keeps a byte order mark at the start of a reply, as it arrives", async () => {
      const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("{}")]);
      const head = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`;
      const { port, server } = await rawServer(Buffer.concat([Buffer.from(head), body]));
      try {
        assert.equal((await get(port)).body, "\ufeff{}");
      } finally {
        await close(server);
      }
    });
  });
}

describe("the webhook client and compressed replies", () => {
  const get = getWith(fetchExchange);
  test("counts a compressed body as it inflates: a small gzip of a large reply is refused", async () => {
    const { gzipSync } = await import("node:zlib");
    const packed = gzipSync(Buffer.from(`"${"x".repeat(50_000)}"`));
    assert.ok(packed.length < 1000, `test setup: ${packed.length} bytes compressed`);
    const head = `HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${packed.length}\r\n\r\n`;
    const { port, server } = await rawServer(Buffer.concat([Buffer.from(head), packed]));
    try {
      await assert.rejects(get(port), (err: unknown) => err instanceof TooLarge);
    } finally {
      await close(server);
    }
  });
  test("reads a compressed reply within the bound, inflated", async () => {
    const { gzipSync } = await import("node:zlib");
    const packed = gzipSync(Buffer.from('{"code":0}'));
    const head = `HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${packed.length}\r\n\r\n`;
    const { port, server } = await rawServer(Buffer.concat([Buffer.from(head), packed]));
    try {
      assert.equal((await get(port)).body, '{"code":0}');
    } finally {
      await close(server);
    }
  });
});

describe("the plain-http GET on its own socket", () => {
  /** The webhook client's whole ask, one attempt. */
  const ask = (url: string) =>
    callWebhook(url, { timeoutMs: 2000, deadlineMs: 5000, retries: 0, maxReplyBytes: 100 });
  const url = new URL("http://127.0.0.1:1/x");
  const ex = (over: Partial<Exchange> = {}): Exchange => ({
    method: "GET",
    url,
    headers: {},
    maxBodyBytes: 10,
    ...over,
  });

  test("takes plain-http GETs without a body, and leaves the rest to fetch", () => {
    assert.equal(rawApplies(ex(), {}), true);
    assert.equal(rawApplies(ex({ url: new URL("https://127.0.0.1/x") }), {}), false);
    assert.equal(rawApplies(ex({ method: "POST", body: "{}" }), {}), false);
    // fetch sends a URL's credentials as basic authentication: such a URL stays with fetch.
    assert.equal(rawApplies(ex({ url: new URL("http://user:secret@127.0.0.1:1/x") }), {}), false);
    assert.equal(rawApplies(ex({ url: new URL("http://user@127.0.0.1:1/x") }), {}), false);
    for (const name of ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"])
      assert.equal(rawApplies(ex(), { [name]: "http://proxy:3128" }), false, name);
    assert.equal(rawApplies(ex(), { HTTPS_PROXY: "http://proxy:3128", http_proxy: "" }), true);
  });

  test("sends connection: close and no accept-encoding, and reaches an IPv6 literal", async () => {
    let seen: Record<string, string | string[] | undefined> = {};
    const server = createHttp((req, res) => {
      seen = req.headers;
      res.end("{}");
    });
    await new Promise<void>((r) => server.listen(0, "::1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const target = new URL(`http://[::1]:${port}/x`);
      const reply = await rawExchange(ex({ url: target, headers: { accept: "application/json" } }), () => {});
      assert.equal(reply.body, "{}");
      assert.equal(seen.connection, "close");
      assert.equal(seen["accept-encoding"], undefined);
      assert.equal(seen.host, `[::1]:${port}`);
    } finally {
      await close(server);
    }
  });

  test("a compressed reply is left to fetch (NeedsFetch), which the webhook client then asks", async () => {
    const { gzipSync } = await import("node:zlib");
    const packed = gzipSync(Buffer.from('{"code":0,"data":[]}'));
    const head = `HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${packed.length}\r\n\r\n`;
    const { port, server } = await rawServer(Buffer.concat([Buffer.from(head), packed]));
    try {
      const target = new URL(`http://127.0.0.1:${port}/x`);
      await assert.rejects(
        rawExchange(ex({ url: target, maxBodyBytes: 100 }), () => {}),
        NeedsFetch,
      );
      const reply = await ask(target.href);
      assert.deepEqual(reply, { code: 0, data: [] });
    } finally {
      await close(server);
    }
  });

  test("a backend URL with credentials is asked through fetch, which sends them as basic authentication", async () => {
    let auth: string | undefined;
    const server = createHttp((req, res) => {
      auth = req.headers.authorization;
      res.end('{"code":0}');
    });
    const port = await listen(server);
    try {
      const reply = await ask(`http://user:p%40ss@127.0.0.1:${port}/x`);
      assert.deepEqual(reply, { code: 0 });
      assert.equal(auth, `Basic ${Buffer.from("user:p@ss").toString("base64")}`);
    } finally {
      await close(server);
    }
  });

  test("a cancel ends the exchange and closes the connection", async () => {
    let closed = false;
    const server = createNet((sock) => {
      sock.on("error", () => {});
      sock.on("close", () => {
        closed = true;
      });
    });
    const port = await listen(server);
    try {
      let cancel: () => void = () => {};
      const pending = rawExchange(ex({ url: new URL(`http://127.0.0.1:${port}/x`) }), (c) => {
        cancel = c;
      });
      await new Promise((r) => setTimeout(r, 50));
      cancel();
      await assert.rejects(pending, TransportError);
      for (let i = 0; i < 50 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(closed, true);
    } finally {
      await close(server);
    }
  });
});
