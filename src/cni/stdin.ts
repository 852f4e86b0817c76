// Reading a plugin's stdin. Bun.stdin.text() starts two thread-pool threads to read a pipe; the
// stream's reader reads it on the event loop: 0.33-0.37 ms against 0.60 for a small config
// (BENCHMARKS.md).
import { decodeUtf8 } from "../net/chars.ts";

/** A stream's whole content as text. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return decodeUtf8(chunks);
}
