// Array.prototype.map for the plugins' path, as a loop: JavaScriptCore compiles each of the
// Array.prototype methods written in JavaScript (map, filter, forEach, find, some, sort...) from
// source at its first call, 40-170 us apiece in a compiled executable (BENCHMARKS.md, "Where a
// plugin's time goes"), and a plugin runs each of them once or twice.

/** `items.map(f)`, without Array.prototype.map. */
export function eachOf<T, R>(items: readonly T[], f: (item: T, index: number) => R): R[] {
  const out: R[] = [];
  for (let i = 0; i < items.length; i++) out.push(f(items[i] as T, i));
  return out;
}

/** `items` sorted as Array.prototype.sort sorts strings (by UTF-16 code units), in a new array. */
export function sortedStrings(items: readonly string[]): string[] {
  const out: string[] = [];
  for (const item of items) {
    let i = out.length;
    while (i > 0 && (out[i - 1] as string) > item) i--;
    out.splice(i, 0, item);
  }
  return out;
}
