// The `dockin` command: one CLI for everything that is not a plugin. Each command lives in its
// own module under src/cli/commands/ (or its area's folder) and is loaded only when run.
import { errorText } from "../cni/errors.ts";

/** A command gets its arguments (after its own name) and returns the exit status. */
export type Command = (argv: string[]) => Promise<number>;

interface Entry {
  summary: string;
  load: () => Promise<Command>;
}

/** Every command of `dockin`; areas add their line here. */
export const commands: Record<string, Entry> = {
  rm: {
    summary: "the resource manager: 'dockin rm serve --listen HOST:PORT --store sqlite:PATH'",
    load: async () => (await import("./commands/rm.ts")).default,
  },
  networks: {
    summary: "networks of a running RM: create, list, show, delete",
    load: async () => (await import("./commands/networks.ts")).default,
  },
  pods: {
    summary: "pods of a running RM: create, list, show, delete, release, gc",
    load: async () => (await import("./commands/pods.ts")).default,
  },
  policies: {
    summary: "policies of a running RM (networks for unregistered pods): create, list, show, delete",
    load: async () => (await import("./commands/policies.ts")).default,
  },
  history: {
    summary: "address history of a running RM: who held 10.0.0.7 (--at TIME), a pod's or network's events",
    load: async () => (await import("./commands/history.ts")).default,
  },
  demo: {
    summary: "run the whole product on this machine: RM, two networks, two pods, ping, cleanup",
    load: async () => (await import("./commands/demo.ts")).default,
  },
  install: {
    summary: "install the plugins and configs on this host (setup.sh install)",
    load: async () => (await import("./commands/install.ts")).default,
  },
  uninstall: {
    summary: "remove the plugins and main config; network configs are kept (setup.sh uninstall)",
    load: async () => (await import("./commands/uninstall.ts")).default,
  },
  doctor: {
    summary: "check this host's install (configs, plugins, backend, cache dir) with a fix per failure",
    load: async () => (await import("./commands/doctor.ts")).default,
  },
  version: {
    summary: "this build's release, the commit it was built from and its Bun (also --version)",
    load: async () => (await import("./version.ts")).default,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length), 8);
  const lines = Object.entries(commands).map(([name, e]) => `  ${name.padEnd(width)}  ${e.summary}`);
  return `usage: dockin <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nRun 'dockin <command> --help' for a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const entry = commands[name === "--version" ? "version" : name];
  if (entry === undefined) {
    process.stderr.write(`dockin: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const command = await entry.load();
    return await command(rest);
  } catch (err) {
    process.stderr.write(`dockin ${name}: ${errorText(err)}\n`);
    return 1;
  }
}
