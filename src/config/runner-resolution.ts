import type { Backend, RunnerSpec } from "../lemfile/types.js";
import type { UserConfig } from "./user-config.js";
import { inputError } from "../errors.js";

export type Strategy = "ephemeral" | "persistent";

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

/** --runner takes a runner kind only (docker:<image> belongs in the lemfile or .lem-config.yaml). */
export function checkCliRunner(cli: string | undefined): void {
  if (cli !== undefined && !/^(local|docker|slurm)$/.test(cli)) {
    throw inputError(`--runner: expected local, docker or slurm, got "${cli}"`, "use --runner local, docker or slurm");
  }
}

export interface RunnerSources { cli?: string; env: NodeJS.ProcessEnv; lemfile: Partial<Record<Backend, RunnerSpec>>; user: UserConfig }

/**
 * The runner of each backend, by resolveRunner's precedence; `auto` is docker when a daemon
 * answers, else local (the daemon is asked at most once, and only when some backend is auto).
 */
export async function resolveRunners(backends: Backend[], sources: RunnerSources, daemonAnswers: () => Promise<boolean>): Promise<Map<Backend, ResolvedRunner>> {
  checkCliRunner(sources.cli);
  let daemon: boolean | undefined;
  const resolved = new Map<Backend, ResolvedRunner>();
  for (const backend of backends) {
    let auto = false;
    const choice = resolveRunner(backend, { ...sources, auto: () => { auto = true; return "local"; } });
    if (auto) choice.spec = (daemon ??= await daemonAnswers()) ? "docker" : "local";
    resolved.set(backend, choice);
  }
  return resolved;
}

/** Docker runners are every spec but local and slurm (docker, docker:<image>). */
export const isDockerRunner = (r: ResolvedRunner): boolean => r.spec !== "local" && r.spec !== "slurm";

/** --container-strategy > .lem-config.yaml docker.strategy (default ephemeral). */
export function resolveStrategy(cli: string | undefined, user: UserConfig): Strategy {
  if (cli !== undefined && cli !== "ephemeral" && cli !== "persistent") {
    throw inputError(`--container-strategy: expected ephemeral or persistent, got "${cli}"`, "use --container-strategy ephemeral or persistent");
  }
  return cli ?? user.docker.strategy;
}
