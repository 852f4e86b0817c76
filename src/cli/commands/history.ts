// `dockin history`: the RM's address history. An address alone asks who holds it (now or --at a
// time) and shows its latest events; --pod, --network, --since and --until page through events.
import { RmClient } from "../../rm/client.ts";
import { RmError } from "../../rm/errors.ts";
import type { HistoryEvent } from "../../rm/history.ts";
import type { AddressReply, HistoryPage } from "../../rm/history-api.ts";
import { parseAddress, parseTime } from "../../rm/history-api.ts";
import { parseFlags } from "../args.ts";
import {
  CLIENT_OPTIONS,
  CLIENT_USAGE,
  enc,
  podRef,
  printJson,
  reportError,
  table,
  UsageError,
} from "./admin.ts";

const USAGE = `usage: dockin history ADDRESS [--at TIME]
       dockin history [ADDRESS] [--pod NS/NAME] [--network NET] [--since TIME] [--until TIME]
                      [--limit N] [--after ID]

The address history of a running RM: who held an address at a time, and every change of holder
(allocated, reserved, released, reassigned, gc, network-deleted), newest first.

  ADDRESS                who holds it now, and its latest events
  --at TIME              who held it at TIME, and its events up to then
  --pod NS/NAME          the events of a pod (NAME alone means the namespace "default")
  --network NET          the events of a network
  --since TIME, --until TIME
                         only events in that span (both ends included)
  --limit N              events per page (default 100, at most 1000)
  --after ID             the next page (as the previous page's last line says)

TIME is RFC 3339 with its zone: 2026-11-30T14:05:00Z or 2026-11-30T14:05:00+01:00. Times are shown
in the local zone (TZ).

${CLIENT_USAGE}`;

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** An RFC 3339 time as local time with its offset: 2026-11-30 15:05:00.000 +01:00. */
export function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const offset = -d.getTimezoneOffset();
  const abs = Math.abs(offset);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)} ` +
    `${offset < 0 ? "-" : "+"}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/** A time given on the command line, as UTC RFC 3339 (checked here, so the flag is named). */
function timeOption(flag: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    return new Date(parseTime(flag, text)).toISOString();
  } catch (err) {
    if (err instanceof RmError)
      throw new UsageError(err.message.replace(`invalid query: ${flag}: `, `--${flag} `));
    throw err;
  }
}

function eventTable(events: HistoryEvent[], withAddress: boolean): string {
  const headers = ["TIME", "EVENT", "NETWORK", ...(withAddress ? ["ADDRESS"] : []), "POD", "SANDBOX", "NODE"];
  const rows = events.map((e) => [
    localTime(e.time),
    e.event,
    e.network,
    ...(withAddress ? [e.address || "-"] : []),
    e.namespace === "" ? "-" : `${e.namespace}/${e.name}`,
    e.containerId === null ? "-" : e.containerId.slice(0, 12),
    e.node ?? "-",
  ]);
  return table(headers, rows);
}

function printAddress(reply: AddressReply): void {
  const when = reply.at === null ? "now" : `at ${localTime(reply.at)}`;
  const h = reply.holder;
  const who =
    h === null
      ? "held by no pod"
      : `held by ${h.namespace}/${h.name} in network ${h.network}` +
        `${h.containerId === null ? "" : `, sandbox ${h.containerId.slice(0, 12)}`}` +
        `${h.node === null ? "" : ` on ${h.node}`}, since ${localTime(h.since)}`;
  process.stdout.write(`${reply.address} ${when}: ${who}\n`);
  if (reply.history.length === 0) process.stdout.write("no recorded events\n");
  else process.stdout.write(eventTable(reply.history, false));
}

export default async function historyCommand(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseFlags({
      args: argv,
      allowPositionals: true,
      options: {
        ...CLIENT_OPTIONS,
        at: { type: "string" },
        pod: { type: "string" },
        network: { type: "string" },
        since: { type: "string" },
        until: { type: "string" },
        limit: { type: "string" },
        after: { type: "string" },
      },
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (positionals.length > 1) throw new UsageError(`expected one address, got ${positionals.join(" ")}`);
    const first = positionals[0];
    const address = first === undefined ? undefined : parseAddressOption(first);
    const listing = [values.pod, values.network, values.since, values.until, values.limit, values.after].some(
      (v) => v !== undefined,
    );
    const client = new RmClient(values);
    if (address !== undefined && !listing) {
      const at = timeOption("at", values.at);
      // A time ahead of this clock (beyond a minute of skew) has no history yet: say so.
      if (at !== undefined && Date.parse(at) > Date.now() + 60_000)
        process.stderr.write(
          `dockin history: note: --at ${values.at} is in the future: this is who holds it now\n`,
        );
      const reply = (await client.request(
        "GET",
        `/api/v1/addresses/${enc(address)}${at === undefined ? "" : `?at=${enc(at)}`}`,
      )) as AddressReply;
      if (values.json) printJson(reply);
      else printAddress(reply);
      return 0;
    }
    if (values.at !== undefined)
      throw new UsageError("--at goes with an address alone (for a span of events use --since and --until)");
    if (address === undefined && !listing) {
      process.stderr.write(`dockin history: give an address, --pod or --network\n\n${USAGE}`);
      return 2;
    }
    const q = new URLSearchParams();
    if (address !== undefined) q.set("address", address);
    if (values.pod !== undefined) {
      const ref = podRef(values.pod);
      q.set("pod", `${ref.namespace}/${ref.name}`);
    }
    if (values.network !== undefined) q.set("network", values.network);
    const since = timeOption("since", values.since);
    if (since !== undefined) q.set("since", since);
    const until = timeOption("until", values.until);
    if (until !== undefined) q.set("until", until);
    if (values.limit !== undefined) q.set("limit", values.limit);
    if (values.after !== undefined) q.set("after", values.after);
    const page = (await client.request("GET", `/api/v1/history?${q}`)) as HistoryPage;
    if (values.json) printJson(page);
    else {
      process.stdout.write(page.items.length === 0 ? "no recorded events\n" : eventTable(page.items, true));
      if (page.next !== null) process.stdout.write(`more: --after ${page.next}\n`);
    }
    return 0;
  } catch (err) {
    return reportError("dockin history", USAGE, err);
  }
}

function parseAddressOption(text: string): string {
  try {
    return parseAddress("address", text);
  } catch (err) {
    if (err instanceof RmError) throw new UsageError(err.message.replace("invalid query: address: ", ""));
    throw err;
  }
}
