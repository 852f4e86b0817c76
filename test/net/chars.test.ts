// chars.ts against the regular expressions and the Buffer call it stands in for on the plugin's
// path: the same answer for a corpus of edge cases and for many random strings drawn from the
// characters that matter (digits, letters around the ranges' edges, separators, white space,
// non-ASCII and surrogates).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeUtf8,
  isDigits,
  isGoSpace,
  isHex,
  isHexGroup,
  isJsSpace,
  isName,
  isShortDecimal,
  isWord,
  utf8Length,
} from "../../src/net/chars.ts";

const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

const ALPHABET = [
  ..."0123456789/:@`[{_.+-aAfFgGzZ !#$%&'*|~",
  "\t",
  "\n",
  "\v",
  "\f",
  "\r",
  "\u0000",
  "\u0008",
  "\u000e",
  "\u0010", // | 0x20 is "0": a digit only to a careless case fold
  "\u0011",
  "\u0019",
  "\u001f",
  "\u0046", // F
  "\u0066", // f
  "\u0047", // G
  "\u0085",
  "\u00a0",
  "\u00e9",
  "\u1680",
  "\u2000",
  "\u200a",
  "\u200b",
  "\u2028",
  "\u2029",
  "\u202f",
  "\u205f",
  "\u3000",
  "\ufeff",
  "\u4e2d",
  "\ud83d\ude00",
  "\ud83d",
  "\ude00",
];

const CORPUS = [
  "",
  "0",
  "00",
  "01",
  "10",
  "255",
  "256",
  "999",
  "1000",
  "0x1",
  "abcd",
  "ABCD",
  "abcde",
  "g",
  "eth0",
  "a_b.c-d",
  "_a",
  "-a",
  "a+b",
  "a b",
  "é",
  "😀",
  "\ud83d",
  "\ude00x",
  "x\ud83d",
];

/** Random strings of 0 to 8 characters from ALPHABET, the same ones on every run. */
function* randomStrings(count: number): Generator<string> {
  let seed = 12345;
  const next = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let n = 0; n < count; n++) {
    let text = "";
    const length = next() % 9;
    for (let i = 0; i < length; i++) text += ALPHABET[next() % ALPHABET.length];
    yield text;
  }
}

const samples = [...CORPUS, ...randomStrings(20_000)];

describe("character checks agree with the expressions they replace", () => {
  const cases: [string, (s: string) => boolean, (s: string) => boolean][] = [
    ["isDigits", isDigits, (s) => /^[0-9]+$/.test(s)],
    ["isShortDecimal", isShortDecimal, (s) => /^(0|[1-9][0-9]{0,2})$/.test(s)],
    ["isHexGroup", isHexGroup, (s) => /^[0-9a-fA-F]{1,4}$/.test(s)],
    ["isHex (a chunk size)", (s) => isHex(s, 8), (s) => /^[0-9a-fA-F]{1,8}$/.test(s)],
    [
      "isWord (an HTTP token)",
      (s) => isWord(s, "!#$%&'*+.^_`|~-"),
      (s) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(s),
    ],
    ["isName (container id)", (s) => isName(s, "_.-"), (s) => /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(s)],
    ["isName (plugin type)", (s) => isName(s, "_.+-"), (s) => /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(s)],
    [
      "isGoSpace",
      (s) => {
        for (let i = 0; i < s.length; i++) if (isGoSpace(s.charCodeAt(i))) return true;
        return false;
      },
      (s) => GO_SPACE.test(s),
    ],
    [
      "isJsSpace",
      (s) => {
        for (let i = 0; i < s.length; i++) if (isJsSpace(s.charCodeAt(i))) return true;
        return false;
      },
      (s) => /\s/.test(s),
    ],
  ];
  for (const [name, ours, theirs] of cases) {
    it(name, () => {
      let positives = 0;
      for (const s of samples) {
        const want = theirs(s);
        assert.equal(ours(s), want, `${name}(${JSON.stringify(s)})`);
        if (want) positives++;
      }
      assert.ok(positives > 0, `${name}: the samples hold no string it accepts`);
    });
  }

  it("utf8Length counts as Buffer.byteLength does, lone surrogates included", () => {
    for (const s of samples) assert.equal(utf8Length(s), Buffer.byteLength(s, "utf8"), JSON.stringify(s));
  });
});

describe("decodeUtf8", () => {
  it("decodes chunks whole, a character split between two chunks included", () => {
    const bytes = new TextEncoder().encode('{"name":"réseau-😀"}');
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.equal(decodeUtf8([bytes.subarray(0, cut), bytes.subarray(cut)]), '{"name":"réseau-😀"}');
    }
    assert.equal(decodeUtf8([]), "");
    assert.equal(decodeUtf8([bytes]), '{"name":"réseau-😀"}');
  });
  it("drops a leading byte order mark as Blob.text() does, or keeps it as Buffer does", () => {
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]);
    assert.equal(decodeUtf8([withBom]), "{}");
    assert.equal(decodeUtf8([withBom], true), Buffer.from(withBom).toString("utf8"));
    assert.equal(decodeUtf8([withBom.subarray(0, 2), withBom.subarray(2)], true), "\ufeff{}");
  });
});
