import { resolvePython } from "../config/python.js";
import { strategySetting, type ResolvedRunner } from "../config/runner-resolution.js";
import { userLayers, type UserConfig } from "../config/user-config.js";
import { resolveSetting, type Setting } from "../config/settings.js";
import { buildWidth, gpusSetting } from "../exec/build-session.js";
import type { Backend } from "../lemfile/types.js";
import type { Project } from "./project.js";

// Every layered setting a build would use, each with the layer that gave it (flag, environment,
// lemfile, .lem-config.yaml, default or what lem found): lem status --json and lem doctor --json
// print these, so a user can tell which file to edit.

export type SettingsReport = Record<string, Setting<unknown>>;

/** The settings that need no lemfile: the local runner's Python, nodes at a time, GPUs, the container strategy. */
export function machineSettings(user: UserConfig, env: NodeJS.ProcessEnv = process.env): SettingsReport {
  const python = resolvePython(user, env);
  return {
    python: { value: python.python, source: python.source },
    jobs: resolveSetting(userLayers<number>(user, "jobs")),
    gpus: gpusSetting(undefined, user),
    container_strategy: strategySetting(undefined, user),
    timeout_seconds: resolveSetting(userLayers<number | null>(user, "timeout_seconds")),
  };
}

/** A project's settings: the machine's, where results go, the hardware planned for, and each backend's runner. */
export function projectSettings(project: Project, runners: Map<Backend, ResolvedRunner>): SettingsReport {
  const report: SettingsReport = { ...machineSettings(project.user), ...project.settings };
  // Nodes at a time as lem build would run these runners without --jobs or --gpus.
  report.jobs = buildWidth(runners, project.user, undefined, undefined);
  for (const [backend, runner] of runners) report[`runner.${backend}`] = { value: runner.spec, source: runner.source };
  return report;
}
