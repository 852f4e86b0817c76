// The RM's records (networks, pods, policies) and what clients send for them, as types. Turning
// untrusted JSON into these is validate.ts; a network's pools are pool.ts; which policy applies to
// a pod is policy.ts.
import type { Family, IP, Prefix } from "../net/ip.ts";

/** One address pool of a network as the client writes it (canonical forms once validated). */
export interface PoolSpec {
  subnet: string;
  gateway?: string;
  rangeStart?: string;
  rangeEnd?: string;
  exclude?: string[];
}

/**
 * A network: the webhook's `type`. The top-level pool is IPv4 or IPv6; a dual-stack network adds
 * an IPv6 pool under `ipv6` (allowed only when the top-level subnet is IPv4).
 */
export interface NetworkSpec extends PoolSpec {
  ipv6?: PoolSpec;
  /**
   * The network may share addresses with other networks (separate L2 domains reusing a range);
   * without it, a subnet overlapping another network's is refused. Kept only when true.
   */
  allowOverlap?: true;
}

export interface Network {
  name: string;
  spec: NetworkSpec;
  created: string;
  updated: string;
}

/** A pool parsed for arithmetic: `start`..`end` is the allocation range, `reserved` never handed out. */
export interface Pool {
  family: Family;
  subnet: Prefix;
  gateway: IP | undefined;
  start: bigint;
  end: bigint;
  /** The network and broadcast addresses, the gateway and the excluded addresses. */
  reserved: Set<bigint>;
}

export interface Address {
  family: Family;
  /** Canonical text of the address, without prefix length. */
  ip: string;
  /** Requested by the client (kept as asked) rather than allocated from the range. */
  fixed: boolean;
}

export interface Attachment {
  network: string;
  ifName: string;
  master: boolean;
  addresses: Address[];
}

export interface PodRecord {
  namespace: string;
  name: string;
  attachments: Attachment[];
  /** The policy that created the pod; absent for pods registered through the admin API. */
  policy?: string;
  /** Kept when the pod is gone (admin pods and sticky policies); released otherwise. */
  sticky: boolean;
  /** The sandbox that last asked for the pod's networks (the webhook's containerId), if any. */
  containerId?: string;
  node?: string;
  created: string;
  updated: string;
}

/** One attachment as a client asks for it (a pod PUT or a policy). */
export interface AttachmentRequest {
  network: string;
  ifName?: string;
  master?: boolean;
  /** Fixed addresses, at most one per family. */
  ips: string[];
}

export interface PodSpec {
  networks: AttachmentRequest[];
}

export interface Policy {
  name: string;
  namespace?: string;
  podPrefix?: string;
  networks: AttachmentRequest[];
  sticky: boolean;
  priority: number;
  created: string;
  updated: string;
}

export type PolicySpec = Omit<Policy, "name" | "created" | "updated">;
