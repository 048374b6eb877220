import { transformersModels } from "../config/models.js";
import { resolveStrategy, runnerKind, type ResolvedRunner, type RunnerSources } from "../config/runner-resolution.js";
import { userLayers, type UserConfig } from "../config/user-config.js";
import { resolveSetting, type Setting } from "../config/settings.js";
import { costModel } from "../graph/cost-model.js";
import { needsRun, type PlannedNode } from "../graph/plan.js";
import { storedWallTimes } from "../store/wall-times.js";
import { checkDeviceSharing, DevicePool, detectGpus, selectGpus, SHARED_DEVICE_FLAG } from "./devices.js";
import { listenForInterrupts } from "./interrupt-signals.js";
import { cudaExperiments } from "./preflight.js";
import { createRunners, resolveRunnersHere, type Runners } from "./runner-factory.js";
import { policyOf, RUNNER_POLICIES } from "./runner-kinds.js";
import { preflight } from "./runner-preflight.js";
import { executeBuild, type BuildOutcome } from "./scheduler.js";
import type { Strategy } from "../config/runner-kinds.js";
import type { ExecutionConfig, Backend } from "../lemfile/types.js";
import type { ResultStore, StoreSnapshot } from "../store/store.js";
import type { BuildEvent } from "./events.js";
import type { ImageInfo, RunnerSettings } from "./runner-policy.js";

/** What a live view is told before the first node: expected seconds per node and nodes at a time. */
export interface BuildForecast {
  /** This config's own stored wall time on this hardware, where there is one. */
  estimate: (node: PlannedNode) => number | undefined;
  /** The cost model: relative sizes, rescaled by what this build measures as it goes. */
  model: { seconds: (node: PlannedNode) => number; calibrated: boolean };
  gaps: { experiment: number; cycle: number };
  jobs: number;
}

/** How the build's events are shown (views/ makes one). */
export interface BuildView {
  emit: (event: BuildEvent) => void;
  /** Resolves once the view has shown the end of every node. */
  done(): Promise<void>;
  /** The build ended in an error: let go of the terminal. */
  abandon(): void;
}

export interface BuildSessionOptions {
  planned: PlannedNode[];
  snapshot: StoreSnapshot;
  store: ResultStore;
  settings: RunnerSettings;
  execution: Required<ExecutionConfig>;
  /** Where each backend's runner comes from (--runner, env, lemfile, .lem-config.yaml). */
  runners: RunnerSources;
  /** --jobs. */
  jobs?: number;
  /** --gpus (devicePool): each node on GPUs of its own. */
  devices?: DevicePool;
  allowSharedDevice?: boolean;
  keepGoing?: boolean;
  /** --container-strategy. */
  strategy?: string;
  /** Asks the user before a strategy that needs a yes (persistent containers), throwing to refuse; absent: --yes. */
  confirm?: (strategy: Strategy) => Promise<void>;
  /** Makes the build's view once its width is known. */
  view: (forecast: BuildForecast) => BuildView;
}

export type BuildSession =
  /** Ctrl-C came while the runners were being made (an image build): no node started. */
  | { started: false }
  | { started: true; outcome: BuildOutcome; images: ImageInfo[]; interrupted: boolean };

/** --gpus > .lem-config.yaml gpus > none (the schema's default null: one machine, shared), with its source. */
export const gpusSetting = (cli: string | undefined, user: UserConfig): Setting<string | null> =>
  resolveSetting<string | null>({ cli: { value: cli, source: "--gpus" }, ...userLayers<string | null>(user, "gpus") });

/** The GPUs nodes are pinned to (gpusSetting), or undefined (one machine, shared). */
export function devicePool(cli: string | undefined, user: UserConfig): DevicePool | undefined {
  const spec = gpusSetting(cli, user);
  return spec.value === null ? undefined : new DevicePool(selectGpus(spec.value, detectGpus(), spec.source));
}

/**
 * Measures the planned nodes that need it. Before any node: the store can take results, each
 * runner is resolved and can work here, nodes that would share this machine are refused (or
 * flagged), and a strategy that needs a yes has it. Ctrl-C stops, a second Ctrl-C kills; the
 * runners are let go of whatever happens.
 */
export async function runBuild(options: BuildSessionOptions): Promise<BuildSession> {
  const { planned, settings, jobs, devices } = options;
  const user = settings.user;
  const toMeasure = planned.filter(needsRun);
  // A store that cannot take results fails now, naming the path, before images or nodes.
  if (toMeasure.length > 0) options.store.checkWritable();
  // Every runner is resolved (and, below, its image built) before any node starts.
  const resolved = await resolveRunnersHere([...new Set(toMeasure.map((n) => n.config.backend))], options.runners);
  const { value: width, source: widthSource } = buildWidth(resolved, user, jobs, devices);
  // Two nodes at once on this machine's CPU or GPU: refused before any node, unless accepted and flagged.
  const onHost = (node: PlannedNode) => {
    const runner = resolved.get(node.config.backend);
    return runner === undefined || policyOf(runner).onHost;
  };
  const shared = checkDeviceSharing({
    width, widthSource: widthSource.startsWith("--") ? `${widthSource} ${width}` : `${widthSource}: ${width}`,
    pinned: devices !== undefined, onHost: toMeasure.filter(onHost).length, allowShared: Boolean(options.allowSharedDevice),
  });
  // Each runner can work, or one error with the fix: before any node starts or any dir is made.
  await preflight(resolved, {
    user, gpu: settings.gpu,
    transformersModels: transformersModels(toMeasure.map((n) => n.config)), cudaExperiments: cudaExperiments(toMeasure),
  });
  const strategy = resolveStrategy(options.strategy, user);
  if (options.confirm && [...resolved.values()].some((r) => policyOf(r).confirms?.(strategy))) await options.confirm(strategy);

  const view = options.view({ ...forecast(options), jobs: width });
  if (shared) view.emit({ type: "warning", message: `--allow-shared-device: up to ${width} nodes at once share this machine's CPU and GPU; each result that overlapped another is flagged ${SHARED_DEVICE_FLAG}` });
  const interrupts = listenForInterrupts({ closedPipe: true, exitAfterKillMs: 3000, onInterrupt: (hard) => view.emit({ type: "interrupting", hard }) });
  let runners: Runners | undefined;
  let outcome: BuildOutcome;
  try {
    try {
      runners = await createRunners(settings, resolved, { strategy, signal: interrupts.stop, emit: view.emit });
    } catch (error) {
      if (!interrupts.stop.aborted) throw error;
      return { started: false };
    }
    const { runnerFor } = runners;
    outcome = await executeBuild({
      planned, snapshot: options.snapshot, store: options.store, execution: options.execution, emit: view.emit,
      runnerFor: (node) => runnerFor(node.config.backend),
      // With --gpus the GPUs set the pace; only an explicit --jobs caps it.
      jobs: devices ? jobs : width, devices,
      sharesDevice: shared ? onHost : undefined,
      keepGoing: options.keepGoing, timeoutSeconds: user.timeout_seconds ?? undefined,
      stop: interrupts.stop, kill: interrupts.kill,
    });
  } catch (error) {
    view.abandon();
    throw error;
  } finally {
    // Every shared server goes with its runner, whatever ended the build (a SIGKILLed lem: their watchdogs, the reaper).
    await runners?.dispose();
    interrupts.dispose();
  }
  await view.done();
  // A Ctrl-C during teardown still counts.
  return { started: true, outcome, images: runners.images, interrupted: outcome.interrupted || interrupts.stop.aborted };
}

/**
 * Nodes at a time: with --gpus the GPUs set it (capped by --jobs); else --jobs; else the default
 * of the one kind the build uses (a cluster schedules its own jobs: slurm.max_jobs), or this
 * host's `jobs` for a mix of kinds.
 */
export function buildWidth(resolved: Map<Backend, ResolvedRunner>, user: UserConfig, jobs: number | undefined, devices: DevicePool | undefined): Setting<number> {
  if (devices) return { value: Math.min(jobs ?? devices.size, devices.size), source: jobs !== undefined ? "--jobs (capped by --gpus)" : "--gpus: one node per GPU set" };
  const kinds = new Set([...resolved.values()].map(runnerKind));
  const kind = kinds.size === 1 ? RUNNER_POLICIES[[...kinds][0]] : undefined;
  return resolveSetting<number>({ cli: { value: jobs, source: "--jobs" }, ...(kind ? kind.jobs(user) : userLayers<number>(user, "jobs")) });
}

/** The ETA's inputs: what each config took here before (its stored wall time), else the cost model. */
function forecast(options: BuildSessionOptions): Omit<BuildForecast, "jobs"> {
  const pending = new Map(options.planned.filter(needsRun).map((n) => [n.hash, { config: n.config, hardware: n.hardware }]));
  const walls = storedWallTimes(options.store, options.snapshot, pending);
  // Elsewhere the cost model: its relative sizes, rescaled by what this build measures as it goes.
  const cost = costModel(walls);
  return {
    estimate: (node) => walls.get(node.hash)?.seconds,
    model: { seconds: (node) => cost.seconds(node.hash, node.config), calibrated: walls.size > 0 },
    gaps: { experiment: options.execution.experiment_gap_seconds, cycle: options.execution.cycle_gap_seconds },
  };
}
