import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { runInExchangeDir, type ExchangeDir, type LaunchOutcome } from "../exchange-dir.js";
import { watchInterrupts } from "../interrupts.js";
import { HARNESS_DIR } from "../../paths.js";
import { harnessEnv } from "../../env.js";
import { finalState, parseClusterConfig, sh, slurm, type ClusterConfig, type JobState } from "./slurm-cli.js";
import { JobSubmitter } from "./job-array.js";
import { jobStateError } from "./slurm-errors.js";
import { hideHarnessError, signalName, tail } from "./job-output.js";
import type { Runner, RunContext, RunOutcome, RunnerMeta, ServerShare } from "../runner.js";
import { ServerJobs } from "./server-jobs.js";
import type { PlannedNode } from "../../graph/plan.js";
import { USER_CONFIG_FILE, type SlurmSettings } from "../../config/user-config.js";
import { inputError } from "../../errors.js";
import type { ExperimentConfig } from "../../lemfile/types.js";
import { asksForGpu, gpusPerRun } from "../../config/gpus.js";

/** GPUs a job asks for: the setting, else vLLM's tensor parallel size, else one only for device: cuda. */
export function gpusForJob(settings: SlurmSettings, config: ExperimentConfig): number {
  if (settings.gpus_per_node !== undefined) return settings.gpus_per_node;
  if (config.backend === "vllm") return gpusPerRun(config);
  return asksForGpu(config) ? 1 : 0;
}

/** Where a job may run: partition, account and qos (node jobs and the hardware probe alike). */
export const placementOptions = (settings: SlurmSettings): string[] => [
  ...(settings.partition ? [`--partition=${settings.partition}`] : []),
  ...(settings.account ? [`--account=${settings.account}`] : []),
  ...(settings.qos ? [`--qos=${settings.qos}`] : []),
];

/** sbatch's options for one node that an array of such nodes shares (no name, output or script). */
export function sbatchOptions(settings: SlurmSettings, config: ExperimentConfig, workDir: string): string[] {
  const gpus = settings.gres ? 0 : gpusForJob(settings, config);
  return [
    `--chdir=${workDir}`, "--export=ALL", "--nodes=1", "--ntasks=1", ...placementOptions(settings),
    ...(settings.time_limit ? [`--time=${settings.time_limit}`] : []),
    ...(settings.gres ? [`--gres=${settings.gres}`] : []),
    ...(gpus > 0 ? [`--gpus-per-node=${gpus}`] : []),
    ...settings.sbatch_args,
  ];
}

/** A node's own job name: its hash and cycle, as squeue and the jobcomp log show it. */
export const jobName = (node: Pick<PlannedNode, "hash" | "cycle">) => `lem-${node.hash}-c${node.cycle}`;

/**
 * The job script: the harness on the compute node, through the container prefix when one is set.
 * slurm.python is one path (quoted: it may hold spaces); slurm.container is a command prefix in sh
 * syntax (its words, $PWD, quotes around a path with spaces), checked by checkJobScript.
 */
export function jobScript(settings: SlurmSettings, x: ExchangeDir, harnessDir = HARNESS_DIR): string {
  return [
    "#!/bin/sh",
    "# Written by lem: one node, run by the harness (docker/PROTOCOL.md) on the compute node.",
    ...scriptEnv(harnessDir),
    ...Object.entries(harnessEnv({ CONFIG_PATH: join(x.dir, x.configFile) })).map(([key, value]) => `export ${key}=${sh(value)}`),
    // No LEM_PARENT_PID: lem's pid means nothing on another machine; Ctrl-C reaches the job through scancel.
    `exec ${pythonCommand(settings)} -m lem_harness`,
    "",
  ].join("\n");
}

/**
 * A server job's script: the job worker (lem_harness/serving/job_worker.py), which runs the serving
 * nodes lem hands it through `queueDir` one by one on one server, as jobScript runs the harness.
 */
export function serverJobScript(settings: SlurmSettings, queueDir: string, harnessDir = HARNESS_DIR): string {
  return [
    "#!/bin/sh",
    "# Written by lem: the serving nodes of one server key, run on one server by the job worker (lem_harness/serving/job_worker.py).",
    ...scriptEnv(harnessDir),
    `exec ${pythonCommand(settings)} -m lem_harness.serving.job_worker ${sh(queueDir)}`,
    "",
  ].join("\n");
}

const scriptEnv = (harnessDir: string) => [
  `export PYTHONPATH=${sh(harnessDir)}\${PYTHONPATH:+:$PYTHONPATH}`,
  "export PYTHONUNBUFFERED=1 CUDA_DEVICE_ORDER=PCI_BUS_ID",
];
const pythonCommand = (settings: SlurmSettings) => `${settings.container ? `${settings.container} ` : ""}${sh(settings.python)}`;

/**
 * slurm.container must parse as sh words (balanced quotes, no stray operator): else every job
 * would fail on the compute node. `sh -n` reads the script without running it.
 */
export function checkJobScript(settings: SlurmSettings): void {
  if (!settings.container) return;
  const script = jobScript(settings, { dir: "/lem-check", configFile: "h_config.json", resultFile: "h_result.json", errorFile: "h_error.json" });
  const check = spawnSync("sh", ["-n"], { input: script, encoding: "utf8", timeout: 5_000 });
  if (check.status !== 0 && check.error === undefined) {
    throw inputError(`${USER_CONFIG_FILE}: slurm.container: not a shell command prefix (${check.stderr.trim().split("\n")[0] || `sh exit ${check.status}`})`,
      `quote it as on a shell command line, e.g. apptainer exec --nv '/shared/my images/lem.sif'`);
  }
}

/** Resolves the shared folder against the project (compute nodes must see it at the same path). */
export function sharedDir(settings: SlurmSettings, projectRoot: string): string {
  return isAbsolute(settings.shared_dir) ? settings.shared_dir : resolve(projectRoot, settings.shared_dir);
}

/**
 * Runs each node as one sbatch job. The exchange dir lives on the shared folder; the harness there
 * writes the result and the compute node's own hardware fingerprint, which lem keeps as written.
 * State comes from squeue while the job is queued or running, then from sacct, `scontrol show job`
 * or the jobcomp file; Ctrl-C and lem's timeout scancel the job and wait until it has left the queue.
 * Serving nodes that share a server (ctx.server) run instead in one server job per lane and key,
 * which starts the server once (server-jobs.ts).
 */
export class SlurmRunner implements Runner {
  readonly kind = "slurm" as const;
  private cluster: ClusterConfig = { maxArraySize: 1001, accounting: false };
  private readonly parent: string;
  private readonly submitter: JobSubmitter;
  /** Serving nodes that share a server run in server jobs (server-jobs.ts); the runners of one build share them. */
  readonly servers: ServerJobs;

  constructor(
    private readonly settings: SlurmSettings,
    private readonly source: string,
    private readonly projectRoot: string,
    servers?: ServerJobs,
  ) {
    checkJobScript(settings);
    this.parent = sharedDir(settings, projectRoot);
    this.submitter = new JobSubmitter({
      arrays: settings.arrays, throttle: settings.array_throttle, maxPollMs: settings.poll_max_seconds * 1000,
      maxArraySize: () => this.cluster.maxArraySize,
    }, this.parent);
    this.servers = servers ?? new ServerJobs({ parent: this.parent, maxPollMs: settings.poll_max_seconds * 1000, finalState: (jobId) => this.finalState(jobId) });
  }

  async prepare(): Promise<void> {
    mkdirSync(this.parent, { recursive: true });
    const config = await slurm("scontrol", ["show", "config"]);
    if (config.code === 0) this.cluster = parseClusterConfig(config.stdout);
  }

  run(node: PlannedNode, ctx: RunContext): Promise<RunOutcome> {
    const meta: RunnerMeta = { runner_type: "slurm", runner_image: this.settings.container ?? null, runner_source: this.source, image_digest: null };
    mkdirSync(this.parent, { recursive: true });
    if (ctx.server) return this.runShared(node, ctx, meta, ctx.server);
    return runInExchangeDir(node, ctx, meta, (x) => this.launch(node, x, ctx), this.parent);
  }

  /** A serving node on its lane's server job, which the key's last node ends (once its result is in). */
  private async runShared(node: PlannedNode, ctx: RunContext, meta: RunnerMeta, share: ServerShare): Promise<RunOutcome> {
    const spec = { options: sbatchOptions(this.settings, node.config, this.projectRoot), script: (queue: string) => serverJobScript(this.settings, queue) };
    const outcome = await runInExchangeDir(node, ctx, meta, (x) => this.servers.launch(x, ctx, share, spec), this.parent);
    const warnings = [outcome.warning, ...(share.last ? [await this.servers.finish(share.lane)] : []), ...this.servers.takeWarnings()].filter(Boolean);
    return warnings.length > 0 ? { ...outcome, warning: warnings.join("; ") } : outcome;
  }

  /** Ends the server jobs still running (a build that stopped before a key's last node). */
  async dispose(): Promise<void> {
    await this.servers.dispose();
  }

  private finalState(jobId: string): Promise<JobState | undefined> {
    return finalState(jobId, this.cluster, () => { try { return readFileSync(this.cluster.jobcompFile!, "utf8"); } catch { return ""; } });
  }

  private async launch(node: PlannedNode, x: ExchangeDir, ctx: RunContext): Promise<LaunchOutcome> {
    const script = join(x.dir, "job.sh");
    writeFileSync(script, jobScript(this.settings, x), { mode: 0o700 });
    const submitted = await this.submitter.submit({ options: sbatchOptions(this.settings, node.config, this.projectRoot), name: jobName(node), dir: x.dir, script });
    if ("error" in submitted) return { exitCode: null, stderrTail: "", interrupted: false, timedOut: false, error: submitted.error };
    const { jobId } = submitted;
    const cancel = (signal?: string) => { void slurm("scancel", [...(signal ? [`--signal=${signal}`, "--full"] : []), jobId]); };
    const watch = watchInterrupts(ctx, { terminate: () => cancel(), kill: () => cancel("KILL") });
    let job: JobState | undefined;
    try {
      await submitted.left;
      job = await this.finalState(jobId);
    } finally {
      watch.dispose();
    }
    // An array task's output lives with its array: it joins the node's exchange dir (kept on failure).
    const output = join(x.dir, `slurm-${jobId}.out`);
    if (submitted.output !== output) try { renameSync(submitted.output, output); } catch { /* none written */ }
    submitted.release();
    const stderrTail = tail(output);
    const base = { stderrTail, interrupted: watch.interrupted, timedOut: watch.timedOut, containerId: null };
    if (!job) {
      return { ...base, exitCode: null, error: { type: "SlurmStateUnknown", message: `job ${jobId} left the queue and Slurm keeps no record of how it ended (output: ${output})`,
        fix: "enable accounting (slurmdbd) or JobCompType=jobcomp/filetxt, or raise MinJobAge, so lem can read a finished job's state" } };
    }
    const error = jobStateError(jobId, job, output);
    // Slurm's own verdict (time limit, memory, node) wins over the Interrupted payload the harness wrote on SIGTERM.
    if (job.state === "TIMEOUT") return { ...base, exitCode: null, timedOut: true, error };
    if (error && !watch.interrupted && !watch.timedOut) return { ...base, exitCode: null, error: { ...error, stderrTail }, ...hideHarnessError(x) };
    return { ...base, exitCode: job.exitCode, ...(job.signal ? { signal: signalName(job.signal) } : {}) };
  }
}
