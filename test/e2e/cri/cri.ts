// A CRI client, as kubelet talks to the runtime: gRPC (runtime.v1) over the runtime's unix socket.
// The messages are the subset in runtime-v1.proto; this module gives them types and promises.
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt?: number;
}

export interface PortMapping {
  protocol?: "TCP" | "UDP" | "SCTP";
  container_port: number;
  host_port: number;
  host_ip?: string;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  log_directory?: string;
  port_mappings?: PortMapping[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: { cgroup_parent?: string };
}

export interface PodSandboxStatusResponse {
  status: {
    id: string;
    metadata: PodSandboxMetadata;
    state: "SANDBOX_READY" | "SANDBOX_NOTREADY";
    network: { ip: string; additional_ips: { ip: string }[] } | null;
  };
  /** Verbose only: containerd puts its sandbox info (pid, netns path, config…) as JSON under "info". */
  info: Record<string, string>;
}

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: "SANDBOX_READY" | "SANDBOX_NOTREADY";
  labels: Record<string, string>;
}

export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
  working_dir?: string;
  log_path?: string;
}

export interface VersionResponse {
  version: string;
  runtime_name: string;
  runtime_version: string;
  runtime_api_version: string;
}

/** A failed call: grpc's status code and the runtime's message (what kubelet logs). */
export type CriError = Error & { code: number; details: string };

type Unary = (
  req: unknown,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res: unknown) => void,
) => void;

const definition = protoLoader.loadSync(join(import.meta.dirname, "runtime-v1.proto"), {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
});
const pkg = grpc.loadPackageDefinition(definition) as unknown as {
  runtime: { v1: Record<"RuntimeService" | "ImageService", grpc.ServiceClientConstructor> };
};

export class CriClient {
  readonly #runtime: grpc.Client;
  readonly #images: grpc.Client;
  /** Deadline of each call, as kubelet's runtime-request-timeout (2 min by default). */
  readonly timeoutMs: number;

  constructor(socket: string, timeoutMs = 120_000) {
    const address = `unix://${socket}`;
    const credentials = grpc.credentials.createInsecure();
    this.#runtime = new pkg.runtime.v1.RuntimeService(address, credentials);
    this.#images = new pkg.runtime.v1.ImageService(address, credentials);
    this.timeoutMs = timeoutMs;
  }

  #call<T>(client: grpc.Client, method: string, req: unknown): Promise<T> {
    const fn = (client as unknown as Record<string, Unary>)[method];
    if (fn === undefined) throw new Error(`CRI client: no method ${method}`);
    return new Promise((resolve, reject) => {
      fn.call(client, req, { deadline: Date.now() + this.timeoutMs }, (err, res) => {
        if (err) reject(err);
        else resolve(res as T);
      });
    });
  }

  version(): Promise<VersionResponse> {
    return this.#call(this.#runtime, "Version", { version: "v1" });
  }

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    const r = await this.#call<{ pod_sandbox_id: string }>(this.#runtime, "RunPodSandbox", { config });
    return r.pod_sandbox_id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.#call(this.#runtime, "StopPodSandbox", { pod_sandbox_id: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.#call(this.#runtime, "RemovePodSandbox", { pod_sandbox_id: id });
  }

  podSandboxStatus(id: string, verbose = true): Promise<PodSandboxStatusResponse> {
    return this.#call(this.#runtime, "PodSandboxStatus", { pod_sandbox_id: id, verbose });
  }

  async listPodSandbox(labels: Record<string, string> = {}): Promise<PodSandbox[]> {
    const r = await this.#call<{ items: PodSandbox[] }>(this.#runtime, "ListPodSandbox", {
      filter: { label_selector: labels },
    });
    return r.items;
  }

  async createContainer(
    sandboxId: string,
    config: ContainerConfig,
    sandboxConfig: PodSandboxConfig,
  ): Promise<string> {
    const r = await this.#call<{ container_id: string }>(this.#runtime, "CreateContainer", {
      pod_sandbox_id: sandboxId,
      config,
      sandbox_config: sandboxConfig,
    });
    return r.container_id;
  }

  async startContainer(id: string): Promise<void> {
    await this.#call(this.#runtime, "StartContainer", { container_id: id });
  }

  async stopContainer(id: string, timeoutSeconds = 0): Promise<void> {
    await this.#call(this.#runtime, "StopContainer", { container_id: id, timeout: timeoutSeconds });
  }

  async removeContainer(id: string): Promise<void> {
    await this.#call(this.#runtime, "RemoveContainer", { container_id: id });
  }

  /** The image's id if the CRI plugin knows the reference, else undefined. */
  async imageId(image: string): Promise<string | undefined> {
    const r = await this.#call<{ image: { id: string } | null }>(this.#images, "ImageStatus", {
      image: { image },
    });
    return r.image?.id || undefined;
  }

  close(): void {
    this.#runtime.close();
    this.#images.close();
  }
}
