// A whole descriptor read or written synchronously. fs.writeSync and fs.readSync are one system
// call each: on a pipe they may move part of the data, and on a non-blocking descriptor (Bun makes
// its stdout so; a runtime could hand over such a stdin) they fail with EAGAIN while the other end
// is slow. A plugin's config and result are whole documents, so these go to the last byte.
import { readSync, writeSync } from "node:fs";
import { decodeUtf8 } from "../net/chars.ts";

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Waits 1 ms: the descriptor was not ready (EAGAIN). */
const waitForFd = () => Atomics.wait(pause, 0, 0, 1);

const isAgain = (err: unknown) => (err as NodeJS.ErrnoException).code === "EAGAIN";

/** Writes all of `text` to `fd`, waiting (1 ms at a time) while the descriptor is full. */
export function writeAllSync(fd: number, text: string | Uint8Array): void {
  const bytes = typeof text === "string" ? Buffer.from(text) : text;
  let done = 0;
  while (done < bytes.length) {
    try {
      done += writeSync(fd, bytes, done, bytes.length - done);
    } catch (err) {
      if (!isAgain(err)) throw err;
      waitForFd();
    }
  }
}

/**
 * Reads `fd` to its end as UTF-8 text (a byte order mark dropped, as TextDecoder does), waiting
 * (1 ms at a time) while a non-blocking descriptor has nothing yet. `read` is fs.readSync's
 * two-argument form, replaceable in tests.
 */
export function readAllSync(fd: number, read: (fd: number, into: Uint8Array) => number = readSync): string {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = read(fd, buffer);
    } catch (err) {
      if (!isAgain(err)) throw err;
      waitForFd();
      continue;
    }
    if (n === 0) return decodeUtf8(chunks);
    chunks.push(buffer.slice(0, n));
  }
}
