// A strict parser for the block-style YAML subset the manifests are written in (no npm YAML
// package is a dependency): `---` documents, block mappings and sequences, plain, single- and
// double-quoted scalars, flow sequences of scalars, comments. Anything else (tabs, anchors,
// aliases, tags, block scalars, flow mappings, duplicate keys, stray indentation) is an error
// with its line number, so a manifest cannot silently mean something else.

export type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };

interface Line {
  no: number;
  indent: number;
  text: string;
}

export class YamlError extends Error {
  override readonly name = "YamlError";
}

/** The line without its comment: a `#` at the start or after a space, outside quotes. */
function stripComment(raw: string): string {
  let quote: string | undefined;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (quote !== undefined) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || raw[i - 1] === " ")) return raw.slice(0, i);
  }
  return raw;
}

function scalar(text: string, no: number): Yaml {
  const t = text.trim();
  if (t.startsWith('"')) {
    try {
      return JSON.parse(t) as string;
    } catch {
      throw new YamlError(`line ${no}: bad double-quoted string ${t}`);
    }
  }
  if (t.startsWith("'")) {
    if (!t.endsWith("'") || t.length < 2) throw new YamlError(`line ${no}: unterminated string ${t}`);
    return t.slice(1, -1).replaceAll("''", "'");
  }
  if (t.startsWith("[")) {
    if (!t.endsWith("]")) throw new YamlError(`line ${no}: unterminated flow sequence ${t}`);
    const inner = t.slice(1, -1).trim();
    return inner === "" ? [] : inner.split(",").map((part) => scalar(part, no));
  }
  if (/^[{&*!|>%@`]/.test(t)) throw new YamlError(`line ${no}: unsupported YAML construct ${t}`);
  if (t === "" || t === "~" || t === "null") return null;
  if (t === "true") return true;
  if (t === "false") return false;
  if (/^0[0-9]+$/.test(t))
    throw new YamlError(`line ${no}: ${t} is octal in YAML 1.1, decimal in 1.2: write it in decimal`);
  if (/^-?(0|[1-9][0-9]*)$/.test(t)) return Number(t);
  return t;
}

/** Splits `key: value` (the key plain or quoted); undefined when the text is not a mapping entry. */
function keyValue(text: string, no: number): [string, string] | undefined {
  let key: string;
  let rest: string;
  if (text.startsWith('"') || text.startsWith("'")) {
    const end = text.indexOf(text[0]!, 1);
    if (end < 0) throw new YamlError(`line ${no}: unterminated key`);
    key = String(scalar(text.slice(0, end + 1), no));
    rest = text.slice(end + 1);
    if (!rest.startsWith(":")) return undefined;
    rest = rest.slice(1);
  } else {
    const m = /^([^\s:"'][^:]*?):(?:\s|$)/.exec(text);
    if (m === null) return undefined;
    key = m[1]!;
    rest = text.slice(m[1]!.length + 1);
  }
  if (rest !== "" && !rest.startsWith(" ")) return undefined;
  return [key, rest.trim()];
}

class Parser {
  private i = 0;
  private readonly lines: Line[];
  constructor(lines: Line[]) {
    this.lines = lines;
  }

  private peek(): Line | undefined {
    return this.lines[this.i];
  }

  parse(): Yaml {
    const first = this.peek();
    if (first === undefined) return null;
    const value = this.block(first.indent);
    const extra = this.peek();
    if (extra !== undefined) throw new YamlError(`line ${extra.no}: unexpected indentation`);
    return value;
  }

  private block(indent: number): Yaml {
    const line = this.peek()!;
    if (line.indent !== indent) throw new YamlError(`line ${line.no}: unexpected indentation`);
    return line.text === "-" || line.text.startsWith("- ") ? this.sequence(indent) : this.mapping(indent);
  }

  private sequence(indent: number): Yaml[] {
    const out: Yaml[] = [];
    for (let line = this.peek(); line !== undefined && line.indent === indent; line = this.peek()) {
      if (!(line.text === "-" || line.text.startsWith("- "))) {
        throw new YamlError(`line ${line.no}: expected a "- " item`);
      }
      const content = line.text.slice(1).trimStart();
      if (content === "") {
        this.i++;
        const next = this.peek();
        out.push(next !== undefined && next.indent > indent ? this.block(next.indent) : null);
      } else if (keyValue(content, line.no) !== undefined || content.startsWith("- ")) {
        // "- key: value" opens a mapping (or "- - x" a sequence) at the item's column.
        const col = indent + (line.text.length - content.length);
        this.lines[this.i] = { no: line.no, indent: col, text: content };
        out.push(this.block(col));
      } else {
        this.i++;
        out.push(scalar(content, line.no));
      }
    }
    return out;
  }

  private mapping(indent: number): { [key: string]: Yaml } {
    const out: { [key: string]: Yaml } = {};
    for (let line = this.peek(); line !== undefined && line.indent === indent; line = this.peek()) {
      const kv = keyValue(line.text, line.no);
      if (kv === undefined) throw new YamlError(`line ${line.no}: expected "key: value", got ${line.text}`);
      const [key, rest] = kv;
      if (Object.hasOwn(out, key)) throw new YamlError(`line ${line.no}: duplicate key "${key}"`);
      this.i++;
      if (rest !== "") {
        out[key] = scalar(rest, line.no);
        continue;
      }
      const next = this.peek();
      if (next !== undefined && next.indent > indent) out[key] = this.block(next.indent);
      else if (
        next !== undefined &&
        next.indent === indent &&
        (next.text === "-" || next.text.startsWith("- "))
      )
        out[key] = this.sequence(indent);
      else out[key] = null;
    }
    return out;
  }
}

/** Every document of a YAML stream. */
export function parseYamlDocuments(text: string): Yaml[] {
  const docs: Line[][] = [[]];
  text.split("\n").forEach((raw, k) => {
    const no = k + 1;
    if (raw.includes("\t")) throw new YamlError(`line ${no}: tab character`);
    if (/^---\s*$/.test(raw)) {
      docs.push([]);
      return;
    }
    if (/^\.\.\.\s*$/.test(raw) || raw.startsWith("%"))
      throw new YamlError(`line ${no}: unsupported directive`);
    const body = stripComment(raw).trimEnd();
    if (body.trim() === "") return;
    const indent = body.length - body.trimStart().length;
    docs.at(-1)?.push({ no, indent, text: body.trimStart() });
  });
  return docs.filter((d) => d.length > 0).map((d) => new Parser(d).parse());
}
