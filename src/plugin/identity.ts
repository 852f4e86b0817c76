// Who the pod is, from CNI_ARGS: containerd and CRI-O send the K8S_POD_* keys, podman sends only
// K8S_POD_NAME (the container's name).
import { parseCniArgs } from "../cni/env.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";

export interface PodIdentity {
  name: string;
  /** Absent when the runtime does not say (podman): the webhook then applies its default. */
  namespace?: string;
  uid?: string;
  infraContainerId?: string;
}

/** The pod named by CNI_ARGS, or undefined when the runtime sent no K8S_POD_NAME. */
export function podIdentity(cniArgs: string): PodIdentity | undefined {
  const args = parseCniArgs(cniArgs);
  const name = args.get("K8S_POD_NAME");
  if (name === undefined || name === "") return undefined;
  const pod: PodIdentity = { name };
  const namespace = args.get("K8S_POD_NAMESPACE");
  if (namespace) pod.namespace = namespace;
  const uid = args.get("K8S_POD_UID");
  if (uid) pod.uid = uid;
  const infra = args.get("K8S_POD_INFRA_CONTAINER_ID");
  if (infra) pod.infraContainerId = infra;
  return pod;
}

export function requirePod(cniArgs: string): PodIdentity {
  const pod = podIdentity(cniArgs);
  if (pod === undefined) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      "CNI_ARGS has no K8S_POD_NAME: dockin-cni asks the backend for the networks of a named pod",
    );
  }
  return pod;
}

/** `namespace/name` for messages and logs. */
export function podLabel(pod: PodIdentity | undefined): string {
  if (pod === undefined) return "(unknown pod)";
  return `${pod.namespace ?? "default"}/${pod.name}`;
}

/**
 * CNI_ARGS as passed to delegates: the runtime's keys, minus `IP`/`GATEWAY` (the backend decides
 * the addresses; the static IPAM would otherwise take the runtime's), with `IgnoreUnknown=1` so
 * that the reference plugins accept the K8S_* keys.
 */
export function delegateArgs(cniArgs: string): string {
  const args = parseCniArgs(cniArgs);
  args.delete("IP");
  args.delete("GATEWAY");
  args.delete("IgnoreUnknown");
  let out = "IgnoreUnknown=1";
  for (const [k, v] of args) out += `;${k}=${v}`;
  return out;
}
