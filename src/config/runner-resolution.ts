import type { Backend, RunnerSpec } from "../lemfile/types.js";
import { userLayers, type UserConfig } from "./user-config.js";
import { findSetting, resolveSetting, type Setting } from "./settings.js";
import { inputError } from "../errors.js";
import { autoKind, isRunnerName, kindOf, oneOf, RUNNER_KINDS, RUNNER_NAME_FORMS, STRATEGIES, type RunnerKind, type RunnerName, type Strategy } from "./runner-kinds.js";

export interface ResolvedRunner {
  /** A lemfile's runner spec, or a kind only settings name (slurm: the cluster is a machine setting). */
  spec: RunnerName;
  /** Where the choice came from: cli, env:LEM_RUNNER_PYTORCH, lemfile, .lem-config.yaml, default. */
  source: string;
}

/** CLI > LEM_RUNNER_<BACKEND> > lemfile runners > .lem-config.yaml > auto. */
export function resolveRunner(
  backend: Backend,
  sources: { cli?: string; env: NodeJS.ProcessEnv; lemfile: Partial<Record<Backend, RunnerSpec>>; user: UserConfig; auto: () => RunnerSpec },
): ResolvedRunner {
  const envName = `LEM_RUNNER_${backend.toUpperCase()}`;
  const chosen = findSetting<string>({
    cli: { value: sources.cli, source: "cli" },
    env: { value: sources.env[envName], source: `env:${envName}` },
    lemfile: { value: sources.lemfile[backend], source: "lemfile" },
    user: { value: sources.user.runners?.[backend], source: ".lem-config.yaml" },
  });
  if (!chosen) return { spec: sources.auto(), source: "auto" };
  if (!isRunnerName(chosen.value)) throw inputError(`${chosen.source}: runner "${chosen.value}" for ${backend} is not valid`, `use ${oneOf(RUNNER_NAME_FORMS.map((f) => `"${f}"`))}`);
  return { spec: chosen.value, source: chosen.source };
}

/** --runner takes a runner kind only (docker:<image> belongs in the lemfile or .lem-config.yaml). */
export function checkCliRunner(cli: string | undefined): void {
  if (cli !== undefined && !(RUNNER_KINDS as readonly string[]).includes(cli)) {
    throw inputError(`--runner: expected ${oneOf(RUNNER_KINDS)}, got "${cli}"`, `use --runner ${oneOf(RUNNER_KINDS)}`);
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
    const choice = resolveRunner(backend, { ...sources, auto: () => { auto = true; return autoKind(false); } });
    if (auto) choice.spec = autoKind(daemon ??= await daemonAnswers());
    resolved.set(backend, choice);
  }
  return resolved;
}

/** The kind of a resolved runner (docker:<image> is docker). */
export const runnerKind = (r: ResolvedRunner): RunnerKind => kindOf(r.spec);

/** --container-strategy > .lem-config.yaml docker.strategy > the schema's default (ephemeral), with its source. */
export function strategySetting(cli: string | undefined, user: UserConfig): Setting<Strategy> {
  if (cli !== undefined && !(STRATEGIES as readonly string[]).includes(cli)) {
    throw inputError(`--container-strategy: expected ${oneOf(STRATEGIES)}, got "${cli}"`, `use --container-strategy ${oneOf(STRATEGIES)}`);
  }
  return resolveSetting<Strategy>({ cli: { value: cli as Strategy | undefined, source: "--container-strategy" }, ...userLayers<Strategy>(user, "docker.strategy") });
}

export const resolveStrategy = (cli: string | undefined, user: UserConfig): Strategy => strategySetting(cli, user).value;

/** A backend's runner kind for planning, without asking Docker: auto is a kind of this host (local or docker), never a cluster. */
export const plannedKind = (backend: Backend, sources: RunnerSources): RunnerKind =>
  kindOf(resolveRunner(backend, { ...sources, auto: () => autoKind(false) }).spec);
