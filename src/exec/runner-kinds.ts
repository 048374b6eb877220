import { kindOf, type RunnerKind } from "../config/runner-kinds.js";
import type { ResolvedRunner } from "../config/runner-resolution.js";
import type { Backend } from "../lemfile/types.js";
import type { RunnerPolicy } from "./runner-policy.js";
import { userLayers } from "../config/user-config.js";

// Every runner kind's policy, one entry each (config/runner-kinds.ts lists the names). Each kind's
// code is imported only when a command uses it: lem status and lem matrix plan with this map, and
// zx, compose and the Python probes cost start-up time.

export const RUNNER_POLICIES = {
  local: {
    onHost: true,
    jobs: (user) => userLayers<number>(user, "jobs"),
    check: async (backend, _spec, settings) => (await import("./preflight.js")).checkLocal(backend, settings),
    create: async (group, host, options) => (await import("./local-kind.js")).createLocalRunners(group, host, options),
  },
  docker: {
    onHost: true,
    jobs: (user) => userLayers<number>(user, "jobs"),
    confirms: (strategy) => strategy === "persistent",
    check: async (backend, spec, settings) => (await import("./preflight.js")).checkDocker(backend, spec, settings),
    create: async (group, host, options) => (await import("./docker/docker-kind.js")).createDockerRunners(group, host, options),
    images: async (group, host) => (await import("./docker/docker-kind.js")).describeDockerImages(group, host),
  },
  slurm: {
    // A job runs on a compute node of its own; the cluster schedules slurm.max_jobs of them at once.
    onHost: false,
    jobs: (user) => userLayers<number>(user, "slurm.max_jobs"),
    check: async (backend) => (await import("./slurm/slurm-kind.js")).checkSlurm(backend),
    create: async (group, host) => (await import("./slurm/slurm-kind.js")).createSlurmRunners(group, host),
    planningHardware: async (context) => (await import("./slurm/slurm-kind.js")).slurmPlanning(context),
  },
} satisfies Record<RunnerKind, RunnerPolicy>;

/** The policy of a resolved runner's kind. */
export const policyOf = (runner: ResolvedRunner): RunnerPolicy => RUNNER_POLICIES[kindOf(runner.spec)];

/** The backends of each kind, kinds in the order their first backend comes. */
export function byKind(resolved: Map<Backend, ResolvedRunner>): Map<RunnerKind, Map<Backend, ResolvedRunner>> {
  const groups = new Map<RunnerKind, Map<Backend, ResolvedRunner>>();
  for (const [backend, runner] of resolved) {
    const kind = kindOf(runner.spec);
    if (!groups.has(kind)) groups.set(kind, new Map());
    groups.get(kind)!.set(backend, runner);
  }
  return groups;
}
