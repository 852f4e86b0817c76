// A network's pool as cells, one per address, for the address map: the RM's own pool arithmetic
// (src/rm/pool.ts toPool): network and IPv4 broadcast addresses, the gateway, the exclude list and
// the addresses outside rangeStart..rangeEnd are never handed out. Pure: no DOM.
import { bits, formatIP, type IP, parseIP } from "../../../net/ip.ts";
import { toPool } from "../../pool.ts";

export const CELL = { free: 0, allocated: 1, reserved: 2, gateway: 3, excluded: 4 } as const;
export type CellState = keyof typeof CELL;
export const STATES = Object.keys(CELL) as CellState[];

/** At most this many cells are drawn (a /16); a larger pool shows its first addresses. */
export const MAX_CELLS = 65_536;

export interface PoolInput {
  subnet: string;
  gateway?: string;
  rangeStart?: string;
  rangeEnd?: string;
  exclude?: string[];
}

export interface Holder {
  address: string;
  /** namespace/name of the pod */
  pod: string;
  /** A fixed address asked for the pod (shown as reserved) rather than allocated from the range. */
  fixed: boolean;
}

export interface PoolMap {
  subnet: string;
  /** The first cell's address. */
  base: IP;
  /** Cells drawn: min(addresses in the subnet, MAX_CELLS). */
  count: number;
  /** Addresses in the subnet (may exceed count). */
  total: bigint;
  cols: number;
  states: Uint8Array;
  /** Cell index -> the pod holding that address. */
  holders: Map<number, string>;
  /** How many cells are in each state. */
  counts: Record<CellState, number>;
}

export function buildPoolMap(pool: PoolInput, held: readonly Holder[]): PoolMap {
  const { family, subnet, gateway, start, end, reserved } = toPool(pool);
  const first = subnet.ip.value;
  const total = 1n << BigInt(bits(family) - subnet.length);
  const count = total > BigInt(MAX_CELLS) ? MAX_CELLS : Number(total);
  const cols = 2 ** Math.ceil(Math.log2(Math.max(count, 1)) / 2);
  // Free: the range, less the reserved addresses (network, broadcast, gateway, exclusions).
  const states = new Uint8Array(count).fill(CELL.excluded);
  const from = start < first ? 0 : Number(start - first);
  const to = Math.min(count - 1, Number(end - first));
  if (from <= to) states.fill(CELL.free, from, to + 1);
  for (const r of reserved)
    if (r >= first && r - first < BigInt(count)) states[Number(r - first)] = CELL.excluded;
  const index = (text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const ip = parseIP(text);
    if (ip === undefined || ip.family !== family || ip.value < first || ip.value - first >= BigInt(count))
      return undefined;
    return Number(ip.value - first);
  };
  const g = gateway === undefined ? undefined : index(formatIP(gateway));
  if (g !== undefined) states[g] = CELL.gateway;
  const holders = new Map<number, string>();
  for (const h of held) {
    const i = index(h.address);
    if (i === undefined) continue;
    states[i] = h.fixed ? CELL.reserved : CELL.allocated;
    holders.set(i, h.pod);
  }
  const counts = { free: 0, allocated: 0, reserved: 0, gateway: 0, excluded: 0 };
  for (const s of states) counts[STATES[s] as CellState]++;
  return { subnet: pool.subnet, base: subnet.ip, count, total, cols, states, holders, counts };
}

export const cellAddress = (map: PoolMap, i: number): string =>
  formatIP({ family: map.base.family, value: map.base.value + BigInt(i) });

/** The addresses of the cells in a state. */
export function cellsIn(map: PoolMap, state: CellState): string[] {
  const out: string[] = [];
  for (let i = 0; i < map.count; i++) if (map.states[i] === CELL[state]) out.push(cellAddress(map, i));
  return out;
}
