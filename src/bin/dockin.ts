import { main } from "../cli/main.ts";
import { connectsUnderWay } from "../plugin/http-raw.ts";

// The executable starts with the JIT held back for the plugins' one-shot runs (scripts/build.ts,
// JIT_POLICY). The CLI's work can run long (the RM's server, `rm migrate` over every pod): the
// normal policy, so that its hot paths are compiled.
Bun.unsafe.setJITPolicy(1);

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // A command that asked a backend (doctor, install's probe) and gave up while a connect was still
  // under way exits now, not when the kernel gives up on it (src/plugin/http-raw.ts).
  if (connectsUnderWay() > 0) process.exit(code);
});
