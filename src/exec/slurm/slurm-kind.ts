import { SlurmRunner } from "./slurm-runner.js";
import { checkSlurmAnswers } from "./preflight.js";
import { computeHardwareFor, knownComputeHost, probeComputeHost, probeNeedsGpu } from "./compute-hardware.js";
import { untilInterrupted } from "../interrupt-signals.js";
import { inputError } from "../../errors.js";
import { USER_CONFIG_FILE } from "../../config/user-config.js";
import type { Runner } from "../runner.js";
import type { KindRunners, PlanningContext, RunnerSettings } from "../runner-policy.js";
import type { RunnerProblem } from "../preflight.js";
import type { ResolvedRunner } from "../../config/runner-resolution.js";
import type { Backend, ExperimentConfig } from "../../lemfile/types.js";

/**
 * One SlurmRunner per backend: each node is a job of its own on the cluster, but serving nodes that
 * share a server run in one server job per lane, which the runners share (lanes span backends).
 */
export function createSlurmRunners(group: Map<Backend, ResolvedRunner>, host: RunnerSettings): KindRunners {
  const runners = new Map<Backend, Runner>();
  let first: SlurmRunner | undefined;
  for (const [backend, choice] of group) {
    const runner = new SlurmRunner(host.user.slurm, choice.source, host.root, first?.servers);
    first ??= runner;
    runners.set(backend, runner);
  }
  return { runners, dispose: async () => { await first?.dispose(); } };
}

/** Slurm: sbatch is here and squeue reaches slurmctld (the compute nodes' Python is checked by the job). */
export async function checkSlurm(backend: Backend): Promise<RunnerProblem | undefined> {
  const problem = await checkSlurmAnswers();
  return problem && { backend, runner: "slurm", ...problem };
}

/**
 * Slurm nodes are planned against the compute nodes' hardware, not this login node's (a result
 * carries the machine it was measured on): slurm.hardware, else a kept probe, else, in a real
 * build, a short probe job now. Unknown otherwise: this host stands in, with a warning.
 */
export async function slurmPlanning(context: PlanningContext): Promise<((config: ExperimentConfig) => string) | undefined> {
  const { user, root, host, notify } = context;
  const settings = user.slurm;
  const gpu = probeNeedsGpu(settings, context.configs);
  let known = knownComputeHost(settings, root, gpu, host);
  if (!known && context.probe) {
    const unusable = await checkSlurmAnswers();
    if (unusable) throw inputError(unusable.message, unusable.fix);
    notify(`lem: a short probe job finds the Slurm compute nodes' hardware, for planning (${USER_CONFIG_FILE} slurm.hardware names it instead)`);
    known = await untilInterrupted((signal) => probeComputeHost(settings, root, gpu, signal));
    notify(`lem: the compute nodes are ${[known.host.gpu, known.host.cpu].filter(Boolean).join(", ")} (${known.source}; kept for the next plans)`);
  }
  if (!known) {
    notify(`warning: the Slurm compute nodes' hardware is not known yet: their nodes are planned as on this machine (${host.gpu ?? host.cpu}); ` +
      `lem build finds it with a short probe job, or name it in ${USER_CONFIG_FILE} slurm.hardware`);
    return undefined;
  }
  return computeHardwareFor(settings, known.host);
}
