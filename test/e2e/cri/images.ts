// Container images made here, with no registry: an OCI image layout holding a pause image and a
// busybox image (one layer: Debian's busybox-static and its applets), archived with tar for
// `ctr images import`. Each manifest carries the `io.containerd.image.name` annotation, which
// is the name containerd gives an imported image.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const BUSYBOX = "/usr/bin/busybox";
export const PAUSE_IMAGE = "dockin.test/pause:1";
export const BUSYBOX_IMAGE = "dockin.test/busybox:1";
/** What the busybox image's httpd serves at /index.html. */
export const INDEX_HTML = "served by a CRI container\n";

const APPLETS = ["sh", "ip", "ping", "sleep", "cat", "httpd", "ls"];

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

function blob(layout: string, mediaType: string, data: Buffer): Descriptor {
  const hex = createHash("sha256").update(data).digest("hex");
  writeFileSync(join(layout, "blobs", "sha256", hex), data);
  return { mediaType, digest: `sha256:${hex}`, size: data.length };
}

function json(layout: string, mediaType: string, value: unknown): Descriptor {
  return blob(layout, mediaType, Buffer.from(JSON.stringify(value)));
}

/** The root filesystem's one layer: an uncompressed tar, owned by root, made by GNU tar. */
function layer(dir: string): Buffer {
  const rootfs = join(dir, "rootfs");
  for (const sub of ["bin", "etc", "proc", "sys", "dev", "tmp", "www"])
    mkdirSync(join(rootfs, sub), { recursive: true });
  copyFileSync(BUSYBOX, join(rootfs, "bin", "busybox"));
  chmodSync(join(rootfs, "bin", "busybox"), 0o755);
  for (const applet of APPLETS) symlinkSync("busybox", join(rootfs, "bin", applet));
  writeFileSync(join(rootfs, "etc", "passwd"), "root:x:0:0:root:/:/bin/sh\n");
  writeFileSync(join(rootfs, "etc", "group"), "root:x:0:\n");
  writeFileSync(join(rootfs, "www", "index.html"), INDEX_HTML);
  const tar = join(dir, "layer.tar");
  execFileSync("tar", [
    "--numeric-owner",
    "--owner=0",
    "--group=0",
    "--sort=name",
    "-C",
    rootfs,
    "-cf",
    tar,
    ".",
  ]);
  return readFileSync(tar);
}

/**
 * Writes `<dir>/images.tar`: an OCI archive with PAUSE_IMAGE (runs `sleep` for ever, as the
 * pause container does) and BUSYBOX_IMAGE (runs `sh` unless told otherwise).
 */
export function buildImageArchive(dir: string): string {
  const layout = join(dir, "oci");
  mkdirSync(join(layout, "blobs", "sha256"), { recursive: true });
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const layerData = layer(dir);
  const layerDesc = blob(layout, "application/vnd.oci.image.layer.v1.tar", layerData);
  const platform = { architecture: "amd64", os: "linux" };
  const image = (name: string, config: Record<string, unknown>) => {
    const configDesc = json(layout, "application/vnd.oci.image.config.v1+json", {
      ...platform,
      config: { Env: ["PATH=/bin"], WorkingDir: "/", ...config },
      rootfs: { type: "layers", diff_ids: [layerDesc.digest] },
      history: [{ created_by: "dockin test: busybox-static" }],
    });
    const manifest = json(layout, "application/vnd.oci.image.manifest.v1+json", {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: configDesc,
      layers: [layerDesc],
    });
    return {
      ...manifest,
      platform,
      annotations: {
        "io.containerd.image.name": name,
        "org.opencontainers.image.ref.name": name.slice(name.lastIndexOf(":") + 1),
      },
    };
  };
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      image(PAUSE_IMAGE, { Entrypoint: ["/bin/sleep", "2147483647"] }),
      image(BUSYBOX_IMAGE, { Cmd: ["/bin/sh"] }),
    ],
  };
  writeFileSync(join(layout, "index.json"), JSON.stringify(index));
  const archive = join(dir, "images.tar");
  execFileSync("tar", [
    "--numeric-owner",
    "--owner=0",
    "--group=0",
    "-C",
    layout,
    "-cf",
    archive,
    "oci-layout",
    "index.json",
    "blobs",
  ]);
  return archive;
}
