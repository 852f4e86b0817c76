// Retention of the address history (`dockin rm serve --history-retention`): a background pass, run
// at start and then periodically, deletes events older than the retention in small batches, each
// its own store write, yielding between them, so allocations never wait behind a long delete.
import { errorText } from "../cni/errors.ts";
import type { RmLogger } from "./log.ts";
import type { Store } from "./store.ts";

export const DEFAULT_RETENTION = "90d";

const UNITS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };

/** `90d`, `12h`, `30m` in ms; `0` keeps history forever (returns 0). */
export function parseRetention(text: string): number {
  if (text === "0") return 0;
  const m = /^(\d{1,6})([dhm])$/.exec(text);
  const ms = m === null ? 0 : Number(m[1]) * (UNITS[m[2] ?? ""] ?? 0);
  if (ms <= 0)
    throw new Error(
      `--history-retention "${text}": expected a duration such as 90d, 12h or 30m, or 0 to keep history forever`,
    );
  return ms;
}

export interface PrunerOptions {
  /** Events looked at per store write (default 500). */
  batch?: number;
  /** Time between passes (default: a tenth of the retention, from 10 s to 1 h). */
  intervalMs?: number;
  now?: () => number;
}

export class HistoryPruner {
  private readonly batch: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;
  private readonly store: Store;
  private readonly retentionMs: number;
  private readonly logger: RmLogger;

  constructor(store: Store, retentionMs: number, logger: RmLogger, options: PrunerOptions = {}) {
    this.store = store;
    this.retentionMs = retentionMs;
    this.logger = logger;
    this.batch = options.batch ?? 500;
    this.intervalMs = options.intervalMs ?? Math.min(3_600_000, Math.max(10_000, retentionMs / 10));
    this.now = options.now ?? Date.now;
  }

  /** Runs a pass now and then every interval (timers do not keep the process alive). */
  start(): void {
    if (this.retentionMs <= 0 || this.stopped) return;
    const tick = () => {
      this.timer = undefined;
      void this.runOnce().finally(() => {
        if (this.stopped) return;
        this.timer = setTimeout(tick, this.intervalMs);
        this.timer.unref?.();
      });
    };
    this.timer = setTimeout(tick, 0);
    this.timer.unref?.();
  }

  /** One pass: deletes every event past the retention (but the latest of each address); how many. */
  runOnce(): Promise<number> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<number> {
    const before = this.now() - this.retentionMs;
    let total = 0;
    try {
      let from: string | undefined;
      for (;;) {
        if (this.stopped) break;
        const step = await this.store.pruneHistory(before, this.batch, from);
        total += step.deleted;
        if (step.next === undefined) break;
        from = step.next;
        // Let the writes that queued meanwhile (allocations) go first.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (total > 0)
        this.logger.info("address history pruned", { events: total, before: new Date(before).toISOString() });
    } catch (err) {
      this.logger.warn("pruning the address history failed; the next pass tries again", {
        error: errorText(err),
      });
    }
    return total;
  }

  /** Stops the timer and waits for a pass in progress to finish its batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }
}
