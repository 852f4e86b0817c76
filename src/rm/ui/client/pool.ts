// A network's pool as cells, one per address, for the address map: the same rules as the RM's
// pool (src/rm/model.ts toPool): network and IPv4 broadcast addresses, the gateway, the exclude
// list and the addresses outside rangeStart..rangeEnd are never handed out. Pure: no DOM.
import { formatIP, type IP, lastAddress, parseIP, parsePrefix } from "../../../net/ip.ts";

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
  const subnet = parsePrefix(pool.subnet);
  if (subnet === undefined) throw new Error(`subnet "${pool.subnet}" does not parse`);
  const family = subnet.ip.family;
  const first = subnet.ip.value;
  const last = lastAddress(subnet).value;
  const total = last - first + 1n;
  const count = total > BigInt(MAX_CELLS) ? MAX_CELLS : Number(total);
  const cols = 2 ** Math.ceil(Math.log2(Math.max(count, 1)) / 2);
  const states = new Uint8Array(count).fill(CELL.excluded);
  const index = (text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const ip = parseIP(text);
    if (ip === undefined || ip.family !== family || ip.value < first || ip.value - first >= BigInt(count))
      return undefined;
    return Number(ip.value - first);
  };
  // The allocation range, like toPool's defaults: the network address and the IPv4 broadcast
  // address are outside it (except on IPv4 /31 and /32, where every address is a host).
  const small = family === 4 && subnet.length >= 31;
  const start = index(pool.rangeStart) ?? (small ? 0 : 1);
  const endText = pool.rangeEnd;
  const defaultEnd = family === 4 && !small ? last - 1n : last;
  const endValue = endText === undefined ? defaultEnd : (parseIP(endText)?.value ?? defaultEnd);
  const end = Math.min(count - 1, Number(endValue - first));
  for (let i = start; i <= end; i++) states[i] = CELL.free;
  if (!small) {
    states[0] = CELL.excluded;
    if (family === 4 && total === BigInt(count)) states[count - 1] = CELL.excluded;
  }
  for (const text of pool.exclude ?? []) {
    const i = index(text);
    if (i !== undefined) states[i] = CELL.excluded;
  }
  const g = index(pool.gateway);
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
