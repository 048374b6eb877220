import type { Backend, RunnerSpec } from "../lemfile/types.js";
import type { UserConfig } from "./user-config.js";
import { inputError } from "../errors.js";

export interface ResolvedRunner {
  /** "slurm" is a runner of its own, not a lemfile runner spec (the cluster is a machine setting). */
  spec: RunnerSpec | "slurm";
  /** Where the choice came from: cli, env:LEM_RUNNER_PYTORCH, lemfile, .lem-config.yaml, default. */
  source: string;
}

const VALID = /^(local|docker|docker:.+|slurm)$/;

/** CLI > LEM_RUNNER_<BACKEND> > lemfile runners > .lem-config.yaml > auto. */
export function resolveRunner(
  backend: Backend,
  sources: { cli?: string; env: NodeJS.ProcessEnv; lemfile: Partial<Record<Backend, RunnerSpec>>; user: UserConfig; auto: () => RunnerSpec },
): ResolvedRunner {
  const envName = `LEM_RUNNER_${backend.toUpperCase()}`;
  const candidates: [string | undefined, string][] = [
    [sources.cli, "cli"],
    [sources.env[envName], `env:${envName}`],
    [sources.lemfile[backend], "lemfile"],
    [sources.user.runners?.[backend], ".lem-config.yaml"],
  ];
  for (const [value, source] of candidates) {
    if (value === undefined || value === "") continue;
    if (!VALID.test(value)) throw inputError(`${source}: runner "${value}" for ${backend} is not valid`, 'use "local", "docker", "docker:<image>" or "slurm"');
    return { spec: value as ResolvedRunner["spec"], source };
  }
  return { spec: sources.auto(), source: "auto" };
}
