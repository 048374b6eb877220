import { loadProject, planProject, requireMatch, type PlanView, type Project } from "./project.js";
import { planOnCluster } from "./plan-on-cluster.js";

// What build, status and matrix do before their own work: load the project, plan each node on
// the machine it will run on, plan the selection against the store, say what the plan warns of,
// and refuse a selector that matches nothing.

/** Where the prologue's lines go: the CLI prints them on stderr; `escape` makes a stored field one safe line. */
export interface PlanNotes {
  notify: (line: string) => void;
  escape: (field: string) => string;
}

export interface OpenOptions {
  lemfile?: string;
  /** --skip-invalid: skip sweep points that only a combination of values makes invalid. */
  skipInvalid?: boolean;
  /** --hardware: plan as on that machine; nothing is asked of a cluster then. */
  hardware?: string[];
  /** --runner (lem build). */
  runner?: string;
  /** A real build: a cluster whose hardware is not known yet is asked (a probe job). */
  probe?: boolean;
}

export interface Selection {
  selectors: string[];
  force?: boolean;
  shard?: string;
  shardHashes?: string;
}

/** The project, each node planned for the machine it runs on (--hardware names that machine). */
export async function openProject(options: OpenOptions, notes: PlanNotes): Promise<Project> {
  const loaded = await loadProject(options.lemfile, { skipInvalid: options.skipInvalid, hardware: options.hardware });
  return options.hardware ? loaded : planOnCluster(loaded, options.runner, Boolean(options.probe), notes.notify);
}

/** The selection planned against the store; the store's warnings and the skipped sweep points said first. */
export function planSelection(project: Project, selection: Selection, notes: PlanNotes): PlanView {
  const view = planProject(project, selection.selectors, selection.force, selection.shard, selection.shardHashes);
  for (const warning of view.snapshot.warnings) notes.notify(`warning: ${notes.escape(warning)}`);
  for (const bad of project.expanded.invalid) notes.notify(`warning: skipped sweep point "${bad.name}": ${bad.errors.join("; ")}`);
  // A selector that matches nothing is a mistake, not an empty plan.
  requireMatch(selection.selectors, view.planned.length);
  return view;
}

/** openProject then planSelection: the whole prologue of lem status and lem matrix. */
export async function planCommand(options: OpenOptions & Selection, notes: PlanNotes): Promise<PlanView & { project: Project }> {
  const project = await openProject(options, notes);
  return { project, ...planSelection(project, options, notes) };
}
