import { LemError } from "../errors.js";
import { err, out } from "./output.js";
import { VERSION } from "./version.js";
import { buildCommand, BUILD_HELP } from "./build.js";
import { statusCommand } from "./status.js";
import { showCommand } from "./show.js";
import { cleanCommand } from "./clean.js";
import { doctorCommand } from "./doctor.js";

const HELP = `lem ${VERSION} — measure the energy, throughput and latency of LLM inference, Make-style

Usage: lem <command> [options]

Commands:
  build [SELECTOR...]   measure what is not measured yet (cached nodes are skipped)
  status [SELECTOR...]  done / pending / failed per node, and why a node would run
  show NAME|HASH        one experiment's config and results
  clean [SELECTOR...]   remove stored results (orphans by default)
  doctor                check Python, torch, Docker and GPUs

Options: --help (per command too), --version

${BUILD_HELP}
Exit codes: 0 ok, 1 a node failed, 2 invalid input, 130 interrupted.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  build: buildCommand, status: statusCommand, show: showCommand, clean: cleanCommand, doctor: doctorCommand,
};

/** Runs one lem invocation and returns its exit code; user mistakes never print a stack. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") { out(HELP); return 0; }
  if (command === "--version" || command === "-v") { out(VERSION); return 0; }
  const run = COMMANDS[command];
  if (!run) {
    err(`lem: unknown command "${command}"\n  fix: one of ${Object.keys(COMMANDS).join(", ")} (lem --help)`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (error) {
    if (error instanceof LemError) {
      err(`lem: ${error.message}`);
      for (const line of error.notes) err(`  - ${line}`);
      if (error.fix) err(`  fix: ${error.fix}`);
      return error.exitCode;
    }
    throw error;
  }
}
