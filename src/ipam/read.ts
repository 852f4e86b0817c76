// Reading a decoded JSON config field by field, the way the reference plugins' Go decoder sees
// it (keys match case-insensitively, the last one wins; null is the same as absent), and
// collecting every problem with its field path instead of stopping at the first.
import { CniError, ErrorCode, FieldErrors } from "../cni/errors.ts";
import { field, isObject, type Json } from "../net/json.ts";

/** A value as it appears in the JSON, shortened for messages. */
export function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const jsonType = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "an object" : `a ${typeof v}`;

/**
 * Collects the problems of one validation pass. A value of the wrong JSON type is a decoding
 * failure (code 6); a well-typed but invalid value is an invalid configuration (code 7).
 */
export class Reader {
  readonly errors = new FieldErrors();
  private wrongType = false;

  /** Records a value of the wrong JSON type. */
  typeError(path: string, expected: string, value: unknown): void {
    this.wrongType = true;
    this.errors.add(path, `must be ${expected}, not ${jsonType(value)} (${quote(value)})`);
  }

  /** Records a well-typed but invalid value. */
  invalid(path: string, message: string): void {
    this.errors.add(path, message);
  }

  object(obj: Json, key: string, path: string): Json | undefined {
    const v = field(obj, key);
    if (v === undefined) return undefined;
    if (isObject(v)) return v;
    this.typeError(path, "an object", v);
    return undefined;
  }

  list(obj: Json, key: string, path: string): unknown[] | undefined {
    const v = field(obj, key);
    if (v === undefined) return undefined;
    if (Array.isArray(v)) return v;
    this.typeError(path, "a list", v);
    return undefined;
  }

  string(obj: Json, key: string, path: string): string | undefined {
    const v = field(obj, key);
    if (v === undefined) return undefined;
    if (typeof v === "string") return v;
    this.typeError(path, "a string", v);
    return undefined;
  }

  int(obj: Json, key: string, path: string): number | undefined {
    const v = field(obj, key);
    if (v === undefined) return undefined;
    if (Number.isSafeInteger(v)) return v as number;
    this.typeError(path, "an integer", v);
    return undefined;
  }

  /** A list of strings; undefined when absent. */
  strings(obj: Json, key: string, path: string): string[] | undefined {
    const items = this.list(obj, key, path);
    if (items === undefined) return undefined;
    const out: string[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (typeof item === "string") out.push(item);
      else this.typeError(`${path}[${i}]`, "a string", item);
    }
    return out;
  }

  /** Adds the problems another reader recorded, after this one's. */
  append(other: Reader): void {
    for (const p of other.errors.problems) this.errors.add(p.path, p.message);
    this.wrongType ||= other.wrongType;
  }

  /** Throws every problem recorded so far as one error, prefixed with what was being read. */
  throwIfAny(what: string): void {
    if (this.errors.empty) return;
    this.errors.throwIfAny(what, this.wrongType ? ErrorCode.DecodeFailure : ErrorCode.InvalidConfig);
  }
}

export function invalidConfig(message: string): CniError {
  return new CniError(ErrorCode.InvalidConfig, message);
}
