import { LemError } from "../errors.js";
import { err, out } from "./output.js";
import { CLOSED_PIPE_EXIT, pipeClosed, watchClosedPipes } from "../exec/closed-pipe.js";
import { VERSION } from "./version.js";

const HELP = `lem ${VERSION} — measure the energy, throughput and latency of LLM inference, Make-style

Usage: lem <command> [options]

Commands:
  build [SELECTOR...]   measure what is not measured yet (cached nodes are skipped)
  status [SELECTOR...]  done / pending / failed per node, and why a node would run
  show NAME|HASH        one experiment's config and results
  clean [SELECTOR...]   remove stored results (orphans by default)
  matrix [SELECTOR...]  the pending nodes as a CI matrix (GitHub, GitLab, JSON), in balanced shards
  import DIR...         merge results folders (CI artifacts) into this project's store
  setup                 install what the lemfile's runners need here (Python with torch, or lem's image)
  report [SELECTOR...]  report.html (charts), results.csv, cycles.csv/.parquet and summary.md of stored results
  compare BASE CURRENT  per config: did energy, throughput or latency regress? (exit 1 if so)
  doctor                check Python, torch, Docker and GPUs

Options: --help, --version; lem <command> --help for a command's options (lem build --help)

Exit codes: 0 ok, 1 a node failed, 2 invalid input, 130 interrupted.`;

type Command = (argv: string[]) => Promise<number>;

// Each command is imported only when it runs: `lem --version` and `--help` load none of them, and
// `lem status` none of build's (listr2, zx, the runners). One line per command.
const COMMANDS: Record<string, () => Promise<Command>> = {
  build: async () => (await import("./build.js")).buildCommand,
  status: async () => (await import("./status.js")).statusCommand,
  show: async () => (await import("./show.js")).showCommand,
  clean: async () => (await import("./clean.js")).cleanCommand,
  setup: async () => (await import("./setup.js")).setupCommand,
  report: async () => (await import("./report.js")).reportCommand,
  compare: async () => (await import("./compare.js")).compareCommand,
  doctor: async () => (await import("./doctor.js")).doctorCommand,
  matrix: async () => (await import("./matrix.js")).matrixCommand,
  import: async () => (await import("./import.js")).importCommand,
};

/** The commands that read a project: their lemfile starts loading while the command's code loads. */
const READS_PROJECT = new Set(["build", "status", "show", "clean", "setup", "matrix", "import", "report"]);

/** `--lemfile PATH` as the command will read it (default ./lemfile.ts); undefined for --help. */
function lemfileArgument(argv: string[]): string | undefined {
  let path = "lemfile.ts";
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") break;
    if (arg === "--help" || arg === "-h") return undefined;
    if (arg === "--lemfile") path = argv[++i] ?? path;
    else if (arg.startsWith("--lemfile=")) path = arg.slice("--lemfile=".length);
  }
  return path;
}

/** Runs one lem invocation and returns its exit code; user mistakes never print a stack. */
export async function main(argv: string[]): Promise<number> {
  watchClosedPipes();
  const code = await run(argv);
  return pipeClosed() ? CLOSED_PIPE_EXIT : code;
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") { out(HELP); return 0; }
  if (command === "--version" || command === "-v") { out(VERSION); return 0; }
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!load) {
    err(`lem: unknown command "${command}"\n  fix: one of ${Object.keys(COMMANDS).join(", ")} (lem --help)`);
    return 2;
  }
  const lemfile = READS_PROJECT.has(command) ? lemfileArgument(rest) : undefined;
  if (lemfile !== undefined) (await import("../lemfile/load.js")).prefetchLemfile(lemfile);
  try {
    const run = await load();
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
