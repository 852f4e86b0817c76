// Character checks for the text a plugin validates on every run (names, versions, addresses),
// written as loops. On the plugin's path they replace regular expressions and Buffer: the engine
// compiles each distinct regular expression at its first use, 20-70 us apiece in a compiled
// executable, and Buffer.byteLength loads Buffer's module (BENCHMARKS.md, "Where a plugin's time
// goes"). Each is tested against the expression it replaces (test/net/chars.test.ts).

const isDigitCode = (c: number): boolean => c >= 0x30 && c <= 0x39;

const isAlnumCode = (c: number): boolean =>
  isDigitCode(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** One or more ASCII digits: /^[0-9]+$/. */
export function isDigits(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) if (!isDigitCode(text.charCodeAt(i))) return false;
  return true;
}

/** A decimal of one to three digits without a leading zero: /^(0|[1-9][0-9]{0,2})$/. */
export function isShortDecimal(text: string): boolean {
  if (text.length === 0 || text.length > 3 || !isDigits(text)) return false;
  return text.length === 1 || text.charCodeAt(0) !== 0x30;
}

/** One to `max` hexadecimal digits: /^[0-9a-fA-F]{1,max}$/. */
export function isHex(text: string, max: number): boolean {
  if (text.length === 0 || text.length > max) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const lower = c | 0x20; // A-F to a-f (only those land in a-f: other codes stay outside)
    if (!isDigitCode(c) && !(lower >= 0x61 && lower <= 0x66)) return false;
  }
  return true;
}

/** One to four hexadecimal digits: /^[0-9a-fA-F]{1,4}$/. */
export const isHexGroup = (text: string): boolean => isHex(text, 4);

/** One or more letters, digits or characters of `more`: /^[a-zA-Z0-9<more>]+$/. */
export function isWord(text: string, more: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    if (!isAlnumCode(text.charCodeAt(i)) && !more.includes(text[i] as string)) return false;
  }
  return true;
}

/**
 * A letter or digit, then letters, digits or the characters of `more`:
 * /^[a-zA-Z0-9][a-zA-Z0-9<more>]*$/.
 */
export function isName(text: string, more: string): boolean {
  return text.length > 0 && isAlnumCode(text.charCodeAt(0)) && isWord(text, more);
}

/** White space as Go's unicode.IsSpace sees it (JavaScript's \s lacks U+0085 and adds U+FEFF). */
export function isGoSpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x20 ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** White space as JavaScript's \s sees it: Go's, without U+0085, with U+FEFF. */
export function isJsSpace(c: number): boolean {
  return (isGoSpace(c) && c !== 0x85) || c === 0xfeff;
}

/** The length of `text` in UTF-8 bytes (a lone surrogate counts as U+FFFD, 3 bytes, as Buffer does). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * UTF-8 bytes read in chunks, as text (a character may straddle two chunks: decoded whole). A
 * leading byte order mark is dropped, as Blob.text() drops it, or kept with `keepBom`, as
 * Buffer.toString() keeps it.
 */
export function decodeUtf8(chunks: readonly Uint8Array[], keepBom = false): string {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: keepBom });
  if (chunks.length === 1) return decoder.decode(chunks[0]);
  let size = 0;
  for (const chunk of chunks) size += chunk.length;
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return decoder.decode(all);
}
