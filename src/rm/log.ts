// The RM's log sink. With --log-file the protocol layer's Logger (src/cni/log.ts) writes the file;
// by default a long-running server logs to stderr, which may be a pipe or a socket (systemd), so
// lines go through the process's stderr stream rather than a re-opened /dev/stderr. Same format:
// one JSON object a line with time, level, msg and fields.
import { type Fields, LEVELS, type Level, Logger } from "../cni/log.ts";

export interface RmLogger {
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
}

const rank = (level: Level): number => LEVELS.indexOf(level);

/** JSON lines on a stream (stderr by default) at or above `level`. */
export function streamLogger(
  level: Level,
  context: Fields = {},
  write: (line: string) => void = (line) => process.stderr.write(line),
): RmLogger {
  const log = (at: Level) => (msg: string, fields?: Fields) => {
    if (rank(at) > rank(level)) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: at, msg, ...context, ...fields })}\n`);
  };
  return { error: log("error"), warn: log("warn"), info: log("info"), debug: log("debug") };
}

/** The RM's logger: a file through the shared Logger, or stderr. */
export function rmLogger(file: string | undefined, level: Level, context: Fields = {}): RmLogger {
  if (file === undefined || file === "" || file === "-") return streamLogger(level, context);
  const logger = new Logger({ ...context }, { stderr: true, level });
  logger.configure(file, level);
  return logger;
}
