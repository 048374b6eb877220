import { parse, positiveInt } from "./args.js";
import { transformersModels } from "../config/models.js";
import { loadProject, planOnCluster, planProject, projectRunners, runnerSettings, type Project, requireMatch, warnPlan } from "./project.js";
import { out, err, isInteractive, statusNode } from "./output.js";
import { executeBuild, type BuildOutcome } from "../exec/scheduler.js";
import { createRunners, type Runners } from "../exec/runner-factory.js";
import { isDockerRunner, resolveStrategy, type Strategy } from "../config/runner-resolution.js";
import { cudaExperiments, preflight } from "../exec/preflight.js";
import { confirm } from "./confirm.js";
import { onPipeClosed } from "./closed-pipe.js";
import { plainReporter } from "../views/plain-reporter.js";
import { ListrReporter } from "../views/listr-reporter.js";
import { shortReason } from "../views/build-progress.js";
import { summarize, renderSummary } from "../views/summary.js";
import { inputError } from "../errors.js";
import { needsRun, type PlannedNode } from "../graph/plan.js";
import { storedWallTimes } from "../store/wall-times.js";
import { costModel } from "../graph/cost-model.js";
import { checkDeviceSharing, DevicePool, detectGpus, selectGpus, SHARED_DEVICE_FLAG } from "../exec/devices.js";
import { USER_CONFIG_FILE } from "../config/user-config.js";
import type { BuildEvent } from "../exec/events.js";

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
  const loaded = await loadProject(values.lemfile, { skipInvalid: values["skip-invalid"], hardware: values.hardware });
  const project = values.hardware ? loaded : await planOnCluster(loaded, values.runner, !values["dry-run"]);
  const gpuSpec = values.gpus ?? project.user.gpus ?? undefined;
  const devices = gpuSpec === undefined ? undefined : new DevicePool(selectGpus(gpuSpec, detectGpus(), values.gpus !== undefined ? "--gpus" : `${USER_CONFIG_FILE}: gpus`));
  const { planned, snapshot } = planProject(project, positionals, values.force, values.shard, values["shard-hashes"]);
  const report = (line: string) => (values.json ? err(line) : out(line));
  warnPlan(project, snapshot);
  requireMatch(positionals, planned.length);

  if (values["dry-run"]) {
    if (values.json) out(JSON.stringify({ nodes: planned.map(statusNode) }));
    else for (const node of planned) out(`${node.state === "done" ? "cached " : "run    "} ${node.names[0]} #${node.cycle} ${node.hash}${node.reason ? ` (${shortReason(node.reason)})` : ""}`);
    return 0;
  }

  // A store that cannot take results fails now, naming the path, before images or nodes.
  if (planned.some(needsRun)) project.store.checkWritable();
  // Every runner is resolved (and, below, its image built) before any node starts.
  const resolved = await projectRunners(project, [...new Set(planned.filter(needsRun).map((n) => n.config.backend))], values.runner);
  const toMeasure = planned.filter(needsRun);
  // A cluster schedules its own jobs: a Slurm-only build keeps slurm.max_jobs nodes there, unless --jobs.
  const onCluster = [...resolved.values()].every((r) => r.spec === "slurm");
  const width = devices ? Math.min(jobs ?? devices.size, devices.size) : jobs ?? (onCluster ? project.user.slurm.max_jobs : project.user.jobs);
  // Two nodes at once on this machine's CPU or GPU: refused before any node, unless accepted and flagged.
  const onHost = (node: PlannedNode) => resolved.get(node.config.backend)?.spec !== "slurm";
  const shared = checkDeviceSharing({
    width, widthSource: jobs !== undefined ? `--jobs ${jobs}` : `${USER_CONFIG_FILE}: jobs: ${width}`,
    pinned: devices !== undefined, onHost: toMeasure.filter(onHost).length, allowShared: Boolean(values["allow-shared-device"]),
  });
  // Each runner can work, or one error with the fix: before any node starts or any dir is made.
  await preflight(resolved, {
    user: project.user, gpu: Boolean(project.host.gpu),
    transformersModels: transformersModels(toMeasure.map((n) => n.config)), cudaExperiments: cudaExperiments(toMeasure),
  });
  const strategy = await confirmStrategy(resolveStrategy(values["container-strategy"], project.user), values.yes, [...resolved.values()].some(isDockerRunner));
  const stop = new AbortController();
  const kill = new AbortController();
  // The ETA starts from what each config took here before (its stored wall time), where known.
  const pendingConfigs = new Map(planned.filter(needsRun).map((n) => [n.hash, { config: n.config, hardware: n.hardware }]));
  const walls = storedWallTimes(project.store, snapshot, pendingConfigs);
  // Elsewhere the cost model: its relative sizes, rescaled by what this build measures as it goes.
  const cost = costModel(walls);
  const view = {
    estimate: (node: PlannedNode) => walls.get(node.hash)?.seconds,
    model: { seconds: (node: PlannedNode) => cost.seconds(node.hash, node.config), calibrated: walls.size > 0 },
    gaps: { experiment: project.expanded.execution.experiment_gap_seconds, cycle: project.expanded.execution.cycle_gap_seconds },
    jobs: width,
  };
  const listr = !values.json && isInteractive() ? new ListrReporter(view) : undefined;
  const listeners: ((e: BuildEvent) => void)[] = [listr ? listr.handle : plainReporter(report, view)];
  if (listr) {
    // What happens outside the node rows (image builds, reaping, warnings) still gets a line.
    const lines = plainReporter(err);
    listeners.push((e) => { if (e.type === "warning" || e.type === "interrupting" || e.type === "image" || e.type === "containers") lines(e); });
  }
  const emit = (event: BuildEvent) => listeners.forEach((l) => l(event));
  if (shared) emit({ type: "warning", message: `--allow-shared-device: up to ${width} nodes at once share this machine's CPU and GPU; each result that overlapped another is flagged ${SHARED_DEVICE_FLAG}` });

  let interrupts = 0;
  const onSignal = () => {
    interrupts += 1;
    if (interrupts === 1) { emit({ type: "interrupting", hard: false }); stop.abort(); }
    else { emit({ type: "interrupting", hard: true }); kill.abort(); setTimeout(() => process.exit(130), 3000).unref(); }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const unwatchPipe = onPipeClosed(onSignal);
  let outcome: BuildOutcome;
  let runners: Runners | undefined;
  try {
    try {
      runners = await createRunners(runnerSettings(project), resolved, { strategy, signal: stop.signal, emit });
    } catch (error) {
      if (!stop.signal.aborted) throw error;
      err("lem: interrupted before any node started");
      return 130;
    }
    const { runnerFor } = runners;
    outcome = await executeBuild({
      planned, snapshot, store: project.store, execution: project.expanded.execution, emit,
      runnerFor: (node) => runnerFor(node.config.backend),
      // With --gpus the GPUs set the pace; only an explicit --jobs caps it.
      jobs: devices ? jobs : width, devices,
      sharesDevice: shared ? onHost : undefined,
      keepGoing: values["keep-going"], timeoutSeconds: project.user.timeout_seconds ?? undefined,
      stop: stop.signal, kill: kill.signal,
    });
  } catch (error) {
    listr?.abandon();
    throw error;
  } finally {
    await runners?.dispose();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    unwatchPipe();
  }
  await listr?.done();

  if (values.json) {
    out(JSON.stringify({
      nodes: outcome.nodes.map(({ node, state, error }) => ({ name: node.names[0], hash: node.hash, cycle: node.cycle, state, ...(error ? { error } : {}) })),
      summary: { ran: outcome.summary.ran, cached: outcome.summary.cached, failed: outcome.summary.failed, skipped: outcome.summary.skipped },
      images: runners?.images ?? [],
    }));
  } else {
    printSummary(project, outcome, report);
  }
  // A Ctrl-C during teardown still counts; a selected node left unmeasured is never success.
  if (outcome.interrupted || stop.signal.aborted) return 130;
  return outcome.summary.failed > 0 || outcome.summary.skipped > 0 ? 1 : 0;
}

function printSummary(project: Project, outcome: BuildOutcome, write: (line: string) => void) {
  const s = outcome.summary;
  write(`\n${s.ran} ran, ${s.cached} cached, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ""}${outcome.interrupted ? " (interrupted)" : ""}`);
  const seen = new Set<string>();
  const rows = outcome.nodes.filter(({ node }) => !seen.has(node.hash) && seen.add(node.hash)).map(({ node }) =>
    summarize(node.names[0], node.hash, project.store.results(node.hash).filter((r) => r.hardware === node.hardware)),
  ).filter((row) => row.cycles > 0);
  const table = renderSummary(rows);
  if (table) write(`\n${table}`);
}

const PERSISTENT_WARNING = `Persistent container mode: containers will remain running between experiments.
  - Faster execution (no container startup overhead)
  - Less isolation (GPU memory and process state may carry over between experiments)
  - Use --container-strategy ephemeral for better isolation`;

/** The persistent strategy asks first (unless --yes), and only when some backend runs in Docker. */
async function confirmStrategy(strategy: Strategy, yes: boolean | undefined, usesDocker: boolean): Promise<Strategy> {
  if (strategy !== "persistent" || yes || !usesDocker) return strategy;
  err(PERSISTENT_WARNING);
  if (!process.stdin.isTTY) {
    throw inputError("the persistent strategy needs confirmation, and there is no terminal to ask on", "pass --yes to confirm, or use --container-strategy ephemeral");
  }
  if (!(await confirm("Continue with persistent mode?", true))) {
    throw inputError("persistent mode declined", "use --container-strategy ephemeral");
  }
  return strategy;
}
