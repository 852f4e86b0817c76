// The two path operations the plugins need, without node:path: on Bun, loading it costs every
// plugin run about 0.35 ms (BENCHMARKS.md). POSIX paths, the results node:path gives.

/** `dir/name` normalized (no empty or `.` segments, `..` resolved), as node:path's join gives it. */
export function joinPath(dir: string, name: string): string {
  const path = dir === "" ? name : `${dir}/${name}`;
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment !== "..") out.push(segment);
    else if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (!absolute) out.push("..");
  }
  const body = out.join("/");
  if (absolute) return `/${body}`;
  return body === "" ? "." : body;
}

/**
 * The directory of `path`, as node:path's dirname gives it: everything before the last slash that
 * follows a non-slash (trailing slashes do not count), "/" or "." when there is none.
 */
export function dirName(path: string): string {
  if (path === "") return ".";
  let seenName = false;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path[i] !== "/") seenName = true;
    else if (seenName) return path.slice(0, i);
  }
  return path[0] === "/" ? "/" : ".";
}
