import { parse, positiveInt } from "./args.js";
import { out, err, isInteractive, printable, statusNode } from "./output.js";
import { confirmPersistent } from "./confirm.js";
import { openProject, planSelection } from "../project/prologue.js";
import { runnerSettings, runnerSources } from "../project/project.js";
import { devicePool, runBuild } from "../exec/build-session.js";
import { selectView } from "../views/select-view.js";
import { shortReason } from "../views/build-progress.js";
import { summarize, renderSummary } from "../views/summary.js";
import { inputError } from "../errors.js";
import type { BuildOutcome } from "../exec/scheduler.js";
import type { ResultStore } from "../store/store.js";

export const BUILD_HELP = `lem build [SELECTOR...] — measure every node that is not measured yet

  SELECTOR                 experiment name (glob: * ?) or hash prefix; default: all
  --lemfile PATH           the lemfile (default ./lemfile.ts)
  --dry-run                plan only: print what would run and why
  --hardware FP            with --dry-run: plan as on another machine (gpu:<name>, cpu:<model>; repeatable)
  --force                  measure the selected nodes again even if done
  --jobs N                 nodes at a time (default 1: energy figures need the machine to themselves); above 1
                           only with --gpus (each node on GPUs of its own), on Slurm, or with --allow-shared-device
  --allow-shared-device    let --jobs N run nodes side by side on this machine; each result that overlapped
                           another is flagged shared_device (its energy and latency include the other's)
  --gpus all|0,1,...       one node per GPU set in parallel, each pinned to its own GPUs (vLLM: tensor_parallel_size
                           of them; a CPU node waits for the whole machine); default: .lem-config.yaml gpus
  --runner local|docker|slurm  runner for every backend (overrides LEM_RUNNER_*, lemfile, .lem-config.yaml)
  --container-strategy ephemeral|persistent
                           docker: a fresh container per node (default), or long-lived ones (faster, less isolated)
  --yes                    do not ask before using persistent containers
  --keep-going             after a failure, go on with the other nodes
  --shard I/N              only the I-th of N disjoint parts, every cycle of a config in one part; alone, the lemfile's
                           configs balanced by the cost model (the same split on every machine)
  --shard-hashes LIST      with --shard: exactly these configs (the hashes field of a lem matrix entry)
  --skip-invalid           skip sweep points invalid only as a combination of values (named in a warning)
  --json                   print the outcome as JSON on stdout (progress goes to stderr)
`;

export async function buildCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    lemfile: { type: "string" }, "dry-run": { type: "boolean" }, force: { type: "boolean" },
    jobs: { type: "string" }, "allow-shared-device": { type: "boolean" }, gpus: { type: "string" }, runner: { type: "string" }, "keep-going": { type: "boolean" },
    json: { type: "boolean" }, "container-strategy": { type: "string" }, yes: { type: "boolean" },
    shard: { type: "string" }, "shard-hashes": { type: "string" }, "skip-invalid": { type: "boolean" }, hardware: { type: "string", multiple: true }, help: { type: "boolean", short: "h" },
  }, "build");
  if (values.help) { out(BUILD_HELP); return 0; }
  // Flags are checked before the lemfile is loaded: a bad --jobs fails fast, naming the flag.
  const jobs = positiveInt(values.jobs, "--jobs");
  // A build measures this machine: planning for another is for --dry-run, status and matrix.
  if (values.hardware && !values["dry-run"]) throw inputError("--hardware plans for another machine, and a build measures this one", "use it with --dry-run, lem status or lem matrix; run the build on that machine");
  const notes = { notify: err, escape: printable };
  const project = await openProject({ lemfile: values.lemfile, skipInvalid: values["skip-invalid"], hardware: values.hardware, runner: values.runner, probe: !values["dry-run"] }, notes);
  const devices = devicePool(values.gpus, project.user);
  const { planned, snapshot } = planSelection(project, { selectors: positionals, force: values.force, shard: values.shard, shardHashes: values["shard-hashes"] }, notes);

  if (values["dry-run"]) {
    if (values.json) out(JSON.stringify({ nodes: planned.map(statusNode) }));
    else for (const node of planned) out(`${node.state === "done" ? "cached " : "run    "} ${node.names[0]} #${node.cycle} ${node.hash}${node.reason ? ` (${shortReason(node.reason)})` : ""}`);
    return 0;
  }

  const report = (line: string) => (values.json ? err(line) : out(line));
  const session = await runBuild({
    planned, snapshot, store: project.store, settings: runnerSettings(project), execution: project.expanded.execution,
    runners: runnerSources(project, values.runner), jobs, devices, allowSharedDevice: values["allow-shared-device"],
    keepGoing: values["keep-going"], strategy: values["container-strategy"], confirm: values.yes ? undefined : confirmPersistent,
    view: (forecast) => selectView(forecast, { live: !values.json && isInteractive(), write: report, note: err }),
  });
  if (!session.started) { err("lem: interrupted before any node started"); return 130; }
  const { outcome } = session;
  if (values.json) {
    out(JSON.stringify({
      nodes: outcome.nodes.map(({ node, state, error }) => ({ name: node.names[0], hash: node.hash, cycle: node.cycle, state, ...(error ? { error } : {}) })),
      summary: { ran: outcome.summary.ran, cached: outcome.summary.cached, failed: outcome.summary.failed, skipped: outcome.summary.skipped },
      images: session.images,
    }));
  } else {
    printSummary(project.store, outcome, report);
  }
  // A selected node left unmeasured is never success.
  if (session.interrupted) return 130;
  return outcome.summary.failed > 0 || outcome.summary.skipped > 0 ? 1 : 0;
}

function printSummary(store: ResultStore, outcome: BuildOutcome, write: (line: string) => void) {
  const s = outcome.summary;
  write(`\n${s.ran} ran, ${s.cached} cached, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ""}${outcome.interrupted ? " (interrupted)" : ""}`);
  const seen = new Set<string>();
  const rows = outcome.nodes.filter(({ node }) => !seen.has(node.hash) && seen.add(node.hash)).map(({ node }) =>
    summarize(node.names[0], node.hash, store.results(node.hash).filter((r) => r.hardware === node.hardware)),
  ).filter((row) => row.cycles > 0);
  const table = renderSummary(rows);
  if (table) write(`\n${table}`);
}
