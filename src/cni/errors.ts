// The one registry of CNI error codes, and the error type every module throws.
// The protocol layer (skel.ts) turns any error into the spec's error object in one place.

export const ErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IOFailure: 5,
  DecodeFailure: 6,
  InvalidConfig: 7,
  /** The reference library's: CNI_NETNS is not a usable network namespace. */
  InvalidNetNS: 8,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  LimitedConnectivity: 51,
  /** Dockin's own: a delegate plugin failed (its code and message are in the text). */
  DelegateFailed: 100,
  /** Dockin's own: the resource manager refused or answered badly. */
  BackendRefused: 101,
  /** Any error that carries no code of its own. */
  Internal: 999,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class CniError extends Error {
  override readonly name = "CniError";
  readonly code: number;
  readonly details: string;

  constructor(code: number, message: string, options: { details?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? "";
  }
}

/** One problem found while validating input, with the path of the field it concerns. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** Collects every problem of a validation pass (not only the first) and reports them together. */
export class FieldErrors {
  readonly problems: FieldProblem[] = [];

  add(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  get empty(): boolean {
    return this.problems.length === 0;
  }

  /** Throws one CniError listing every problem, prefixed with what was being validated. */
  throwIfAny(what: string, code: number = ErrorCode.InvalidConfig): void {
    if (this.empty) return;
    const list = this.problems.map((p) => `${p.path}: ${p.message}`);
    throw new CniError(code, `${what}: ${list.join("; ")}`);
  }
}

export interface ErrorObject {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/** The spec's error object for any thrown value. */
export function toErrorObject(err: unknown, cniVersion: string): ErrorObject {
  if (err instanceof CniError) {
    const obj: ErrorObject = { cniVersion, code: err.code, msg: err.message };
    if (err.details !== "") obj.details = err.details;
    return obj;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return { cniVersion, code: ErrorCode.Internal, msg };
}

/** The message of an error and of its causes, for logs and wrapped messages. */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && depth < 5; depth++) {
    parts.push(cur instanceof Error ? cur.message : String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(": ");
}
