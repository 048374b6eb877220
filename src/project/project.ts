import { dirname, resolve, isAbsolute, join } from "node:path";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { loadLemfile } from "../lemfile/load.js";
import { expandLemfile, type ExpandedLemfile } from "../config/expand.js";
import { loadUserConfig, USER_CONFIG_FILE, userLayers, type UserConfig } from "../config/user-config.js";
import { resolveSetting, type Setting } from "../config/settings.js";
import { inputError } from "../errors.js";
import { buildNodes, type NodeSpec } from "../graph/nodes.js";
import { planBuild, type PlannedNode } from "../graph/plan.js";
import { makeSelector, shardSelector } from "../graph/select.js";
import { ResultStore, type StoreSnapshot } from "../store/store.js";
import { detectHardware, hardwareFor, hostAs, type HostHardware } from "../exec/hardware.js";
import type { ResolvedRunner, RunnerSources } from "../config/runner-resolution.js";
import { resolveRunnersHere } from "../exec/runner-factory.js";
import type { RunnerSettings } from "../exec/runner-policy.js";
import type { Backend, ExperimentConfig } from "../lemfile/types.js";

/** Everything a command needs to know about a project, loaded once. */
export interface Project {
  lemfile: string;
  root: string;
  expanded: ExpandedLemfile;
  user: UserConfig;
  store: ResultStore;
  nodes: NodeSpec[];
  host: HostHardware;
  /** Where each config would be measured (planning); Slurm nodes: see planOnCluster. */
  hardwareFor: (config: ExperimentConfig) => string;
  /** The project's layered settings, each with the layer that gave it (lem status --json prints them). */
  settings: { results_dir: Setting<string>; hardware: Setting<string> };
}

export interface LoadOptions {
  /** --skip-invalid: skip sweep points that only a combination of values makes invalid. */
  skipInvalid?: boolean;
  /** --hardware: plan as on that machine (fingerprints; see hostAs). */
  hardware?: string[];
}

export async function loadProject(lemfilePath = "lemfile.ts", options: LoadOptions = {}): Promise<Project> {
  const lemfile = resolve(lemfilePath);
  const root = dirname(lemfile);
  const raw = await loadLemfile(lemfilePath);
  const expanded = expandLemfile(raw, lemfilePath, { digest: datasetDigest(root), skipInvalid: options.skipInvalid });
  const user = loadUserConfig(root);
  const dir = resolveSetting<string>({ lemfile: { value: expanded.resultsDir, source: "lemfile" }, ...userLayers<string>(user, "results_dir") });
  const resultsDir = isAbsolute(dir.value) ? dir.value : join(root, dir.value);
  const where = { lemfile: lemfilePath, default: `${lemfilePath} (the default results_dir)` }[dir.source] ?? join(root, USER_CONFIG_FILE);
  checkResultsDir(resultsDir, where);
  const store = new ResultStore(resultsDir);
  const host = planningHost(options.hardware);
  const settings = { results_dir: { value: resultsDir, source: dir.source }, hardware: host.setting };
  return { lemfile, root, expanded, user, store, nodes: buildNodes(expanded.experiments, expanded.execution), host: host.host, hardwareFor: hardwareFor(host.host), settings };
}

/** --hardware > this machine, as detected (Slurm nodes: planOnCluster). */
function planningHost(hardware: string[] | undefined): { host: HostHardware; setting: Setting<string> } {
  const detected = detectHardware();
  const host = hardware?.length ? hostAs(detected, hardware) : detected;
  return { host, setting: { value: host.gpu ?? host.cpu, source: hardware?.length ? "--hardware" : "detected" } };
}

/** results_dir may be missing (the store makes it) but never a file, nor below one. */
function checkResultsDir(dir: string, source: string) {
  let stat;
  try {
    stat = statSync(dir, { throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOTDIR") throw error;
    throw inputError(`${source}: results_dir: ${dir} lies below a file, expected a folder`, "point results_dir at a folder (or move that file away)");
  }
  if (stat && !stat.isDirectory()) {
    throw inputError(`${source}: results_dir: ${dir} is a file, expected a folder`, "point results_dir at a folder (or move that file away)");
  }
}

export interface PlanView {
  planned: PlannedNode[];
  snapshot: StoreSnapshot;
}

/** Plans the selected nodes against the store. */
export function planProject(project: Project, selectors: string[], force = false, shard?: string, shardHashes?: string): PlanView {
  const bySelector = makeSelector(selectors);
  const inShard = shardSelector(shard, project.nodes, shardHashes);
  const select = (node: NodeSpec) => bySelector(node) && inShard(node);
  const snapshot = project.store.snapshot();
  const currentHashes = new Set(project.nodes.map((n) => n.hash));
  const planned = planBuild(project.nodes.filter(select), snapshot, { hardwareFor: project.hardwareFor, force, currentHashes });
  return { planned, snapshot };
}

/** Where each backend's runner comes from: --runner, LEM_RUNNER_<BACKEND>, the lemfile, .lem-config.yaml. */
export const runnerSources = (project: Project, cli?: string): RunnerSources =>
  ({ cli, env: process.env, lemfile: project.expanded.runners, user: project.user });

/** The runner of each backend (config/runner-resolution's precedence); auto asks the Docker daemon. */
export const projectRunners = (project: Project, backends: Backend[], cli?: string): Promise<Map<Backend, ResolvedRunner>> =>
  resolveRunnersHere(backends, runnerSources(project, cli));

/** What the runner factory needs of a project. */
export const runnerSettings = (project: Project): RunnerSettings => ({ root: project.root, user: project.user, gpu: Boolean(project.host.gpu) });

/** A selector that matches nothing is a mistake, not an empty result (build, status, matrix, report). */
export function requireMatch(selectors: string[], matched: number): void {
  if (selectors.length > 0 && matched === 0) {
    throw inputError(`no experiment matches ${selectors.map((p) => `"${p}"`).join(" ")}`, "run `lem status` to list names and hashes");
  }
}

/** sha256 of each dataset file, read once per path, relative to the project root. */
function datasetDigest(root: string): (path: string) => string | undefined {
  const seen = new Map<string, string | undefined>();
  return (path) => {
    if (!seen.has(path)) {
      const file = resolve(root, path);
      seen.set(path, existsSync(file) && statSync(file).isFile() ? createHash("sha256").update(readFileSync(file)).digest("hex") : undefined);
    }
    return seen.get(path);
  };
}
