// The RM's errors: one registry of reasons, each with its HTTP status. The HTTP layer turns any
// thrown value into `{code, reason, message}` in one place (server.ts); `code` is the status.
import { FieldErrors } from "../cni/errors.ts";

export const Reason = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  Conflict: 409,
  PoolExhausted: 409,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  Internal: 500,
  Unavailable: 503,
} as const;
export type Reason = keyof typeof Reason;

export class RmError extends Error {
  override readonly name = "RmError";
  readonly reason: Reason;

  constructor(reason: Reason, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
  }

  get status(): number {
    return Reason[this.reason];
  }
}

/** Throws a 400 listing every problem with its field path, prefixed with what was validated. */
export function throwIfInvalid(errors: FieldErrors, what: string): void {
  if (errors.empty) return;
  const list = errors.problems.map((p) => `${p.path}: ${p.message}`);
  throw new RmError("BadRequest", `${what}: ${list.join("; ")}`);
}

export { FieldErrors };
