// All-or-nothing file changes for the installer: every new file is first staged as a temp file in
// its target directory (so the final rename is atomic: a runtime may be executing the old plugin),
// then all are renamed into place. A failure while staging removes every temp file and every
// directory the transaction created, so nothing is left half-written.
import {
  chmodSync,
  closeSync,
  copyFileSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmdirSync,
  type Stats,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

function tempName(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}.dockin-tmp-${process.pid}`);
}

function fsyncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    fsyncFile(dir);
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  }
}

export class Transaction {
  private readonly created: string[] = [];
  private readonly staged: { temp: string; dest: string }[] = [];
  private readonly removals: string[] = [];

  /** Creates `dir` and its missing parents, remembering which it created. */
  ensureDir(dir: string): void {
    const missing: string[] = [];
    let cur = dir;
    for (;;) {
      try {
        if (!statSync(cur).isDirectory()) throw new Error(`"${cur}" exists and is not a directory`);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        missing.unshift(cur);
        const parent = dirname(cur);
        if (parent === cur) break;
        cur = parent;
      }
    }
    for (const d of missing) {
      mkdirSync(d, { mode: 0o755 });
      this.created.push(d);
    }
  }

  /** Stages a copy of `src` as `dest`. */
  stageCopy(src: string, dest: string, mode = 0o755): void {
    this.ensureDir(dirname(dest));
    const temp = tempName(dest);
    this.staged.push({ temp, dest });
    rmIfPresent(temp);
    copyFileSync(src, temp);
    chmodSync(temp, mode);
    fsyncFile(temp);
  }

  stageText(dest: string, text: string, mode = 0o644): void {
    this.ensureDir(dirname(dest));
    const temp = tempName(dest);
    this.staged.push({ temp, dest });
    // A temp left by a killed install may be a hard link to an installed file (stageLink): written
    // through, it would change that file. A new file, then.
    rmIfPresent(temp);
    writeFileSync(temp, text, { mode, flag: "wx" });
    chmodSync(temp, mode);
    fsyncFile(temp);
  }

  /**
   * Stages `dest` as a hard link to `target`: to the copy this transaction stages for `target`
   * when there is one (both names then land on the new file), else to `target` as it is.
   */
  stageLink(target: string, dest: string): void {
    this.ensureDir(dirname(dest));
    const from = this.staged.find((s) => s.dest === target)?.temp ?? target;
    const temp = tempName(dest);
    this.staged.push({ temp, dest });
    rmIfPresent(temp);
    linkSync(from, temp);
  }

  remove(path: string): void {
    this.removals.push(path);
  }

  /** Renames every staged file into place and removes what was asked. */
  commit(): void {
    const dirs = new Set<string>();
    for (const { temp, dest } of this.staged) {
      renameSync(temp, dest);
      dirs.add(dirname(dest));
    }
    for (const path of this.removals) {
      rmIfPresent(path);
      dirs.add(dirname(path));
    }
    for (const d of dirs) fsyncDir(d);
    this.staged.length = 0;
  }

  /** Undoes the staging: temp files and created directories go. Never throws. */
  rollback(): void {
    for (const { temp } of this.staged) {
      try {
        rmIfPresent(temp);
      } catch {
        // best effort: report the original failure
      }
    }
    for (const d of this.created.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // not empty or already gone
      }
    }
  }

  /** Runs `stage` then commits, or rolls everything back and rethrows. */
  static run(stage: (txn: Transaction) => void): void {
    const txn = new Transaction();
    try {
      stage(txn);
      txn.commit();
    } catch (err) {
      txn.rollback();
      throw err;
    }
  }
}

export function rmIfPresent(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** The two files' stats, or undefined when either is missing. */
function statsOf(a: string, b: string): [Stats, Stats] | undefined {
  try {
    return [statSync(a), statSync(b)];
  } catch {
    return undefined;
  }
}

const oneFile = (sa: Stats, sb: Stats): boolean => sa.dev === sb.dev && sa.ino === sb.ino;

/** Whether `a` and `b` are one file (hard links of each other). */
export function sameFile(a: string, b: string): boolean {
  const stats = statsOf(a, b);
  return stats !== undefined && oneFile(...stats);
}

/** Whether two files have the same bytes (same inode, or equal size and content). */
export function sameContent(a: string, b: string): boolean {
  const stats = statsOf(a, b);
  if (stats === undefined) return false;
  const [sa, sb] = stats;
  if (oneFile(sa, sb)) return true;
  if (sa.size !== sb.size) return false;
  const fa = openSync(a, "r");
  const fb = openSync(b, "r");
  try {
    const ba = Buffer.allocUnsafe(1 << 20);
    const bb = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const na = readSync(fa, ba, 0, ba.length, null);
      const nb = readSync(fb, bb, 0, bb.length, null);
      if (na !== nb) return false;
      if (na === 0) return true;
      if (ba.compare(bb, 0, nb, 0, na) !== 0) return false;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}
