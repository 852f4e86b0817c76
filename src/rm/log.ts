// The RM's log sink. With --log-file the protocol layer's Logger (src/cni/log.ts) writes the file;
// by default a long-running server logs to stderr, which may be a pipe or a socket (systemd), so
// lines go through the process's stderr stream (the Logger's `sink`), not synchronous writes.
import { type Fields, type Level, Logger } from "../cni/log.ts";

/** What the RM logs through (the shared Logger). */
export type RmLogger = Pick<Logger, "error" | "warn" | "info" | "debug">;

/** JSON lines on a stream (stderr by default) at or above `level`. */
export function streamLogger(
  level: Level,
  context: Fields = {},
  write: (line: string) => void = (line) => process.stderr.write(line),
): RmLogger {
  return new Logger({ ...context }, { level, stderr: false, sink: write });
}

/** The RM's logger: a file through the shared Logger, or stderr. */
export function rmLogger(file: string | undefined, level: Level, context: Fields = {}): RmLogger {
  if (file === undefined || file === "" || file === "-") return streamLogger(level, context);
  const logger = new Logger({ ...context }, { stderr: true, level });
  logger.configure(file, level);
  return logger;
}
