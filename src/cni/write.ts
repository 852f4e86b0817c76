// Synchronous writes that finish. fs.writeSync is one write(2): on a pipe it may write part of the
// text, and when the descriptor is non-blocking (Bun makes stdout so) it fails with EAGAIN while
// the reader is slow. A plugin's result is its whole answer, so it is written to the last byte.
import { writeSync } from "node:fs";

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `text` to `fd`, waiting (1 ms at a time) while the descriptor is full. */
export function writeAllSync(fd: number, text: string | Uint8Array): void {
  const bytes = typeof text === "string" ? Buffer.from(text) : text;
  let done = 0;
  while (done < bytes.length) {
    try {
      done += writeSync(fd, bytes, done, bytes.length - done);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
