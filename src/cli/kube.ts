// The pods of a Kubernetes cluster, read from its API server as a pod of the cluster reads it (the
// service account's token and CA, KUBERNETES_SERVICE_HOST and _PORT) or at a URL given: each pod's
// namespace, name and phase, a page at a time. Only `dockin pods gc --kubernetes` uses it; nothing
// else in Dockin talks to the Kubernetes API.
import { existsSync, readFileSync } from "node:fs";
import { errorText } from "../cni/errors.ts";

/** Where Kubernetes mounts a pod's service account credentials. */
export const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface KubeOptions {
  /** The API server's URL; default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT. */
  api?: string | undefined;
  /** A file holding the bearer token; default the service account's, when there is one. */
  tokenFile?: string | undefined;
  /** The CA that signs the API server's certificate; default the service account's, when there is one. */
  caFile?: string | undefined;
}

export interface KubePod {
  namespace: string;
  name: string;
  phase: string | undefined;
}

/** A page's size: the API server's default chunk for kubectl, small enough for any cluster. */
const PAGE = 500;

function readCredential(flag: string, path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new Error(`${flag} ${path}: ${errorText(err)}`);
  }
}

function apiUrl(opts: KubeOptions): string {
  if (opts.api !== undefined) return opts.api.replace(/\/+$/, "");
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
  if (host === undefined || host === "") {
    throw new Error(
      "KUBERNETES_SERVICE_HOST is not set (not in a pod of the cluster): give the API server with --kube-api",
    );
  }
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * Every pod of the cluster, read page by page (`limit` and `continue`). Throws, naming the API
 * server, on any failure: a caller releasing what the list lacks must never act on part of it.
 */
export async function listKubePods(opts: KubeOptions): Promise<KubePod[]> {
  const api = apiUrl(opts);
  const tokenFile =
    opts.tokenFile ?? (existsSync(`${SERVICE_ACCOUNT}/token`) ? `${SERVICE_ACCOUNT}/token` : undefined);
  const caFile =
    opts.caFile ?? (existsSync(`${SERVICE_ACCOUNT}/ca.crt`) ? `${SERVICE_ACCOUNT}/ca.crt` : undefined);
  const headers: Record<string, string> = { accept: "application/json" };
  if (tokenFile !== undefined)
    headers.authorization = `Bearer ${readCredential("--kube-token-file", tokenFile)}`;
  const tls = caFile === undefined ? {} : { tls: { ca: readCredential("--kube-ca-file", caFile) } };
  const pods: KubePod[] = [];
  let next: string | undefined;
  do {
    const url = `${api}/api/v1/pods?limit=${PAGE}${next === undefined ? "" : `&continue=${encodeURIComponent(next)}`}`;
    let res: Response;
    try {
      res = await fetch(url, { headers, ...tls, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new Error(`listing the cluster's pods at ${api}: ${errorText(err)}; nothing released`);
    }
    const text = await res.text();
    if (res.status !== 200) {
      let message = text.slice(0, 300);
      try {
        message = String((JSON.parse(text) as { message?: unknown }).message ?? message);
      } catch {
        // not a Status object
      }
      const hint =
        res.status === 410
          ? " (the listing expired while it was read: run again)"
          : res.status === 401 || res.status === 403
            ? " (in the cluster, the service account needs list on pods: deploy/kubernetes/gc-cronjob.yaml's ClusterRole; outside it, give a token with --kube-token-file)"
            : "";
      throw new Error(
        `listing the cluster's pods at ${api}: HTTP ${res.status}: ${message}${hint}; nothing released`,
      );
    }
    let page: { items?: unknown; metadata?: { continue?: unknown } };
    try {
      page = JSON.parse(text) as typeof page;
    } catch {
      throw new Error(`listing the cluster's pods at ${api}: the reply is not JSON: ${text.slice(0, 200)}`);
    }
    if (!Array.isArray(page.items))
      throw new Error(`listing the cluster's pods at ${api}: the reply has no items`);
    for (const item of page.items as {
      metadata?: { namespace?: unknown; name?: unknown };
      status?: { phase?: unknown };
    }[]) {
      const { namespace, name } = item.metadata ?? {};
      if (typeof namespace !== "string" || typeof name !== "string") {
        throw new Error(`listing the cluster's pods at ${api}: a pod without metadata.namespace and .name`);
      }
      const phase = item.status?.phase;
      pods.push({ namespace, name, phase: typeof phase === "string" ? phase : undefined });
    }
    const more = page.metadata?.continue;
    next = typeof more === "string" && more !== "" ? more : undefined;
  } while (next !== undefined);
  return pods;
}

/** Whether a pod may still hold a sandbox: every phase but Succeeded and Failed (whose sandboxes are gone). */
export const mayRun = (pod: KubePod): boolean => pod.phase !== "Succeeded" && pod.phase !== "Failed";
