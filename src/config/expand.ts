import { EXPERIMENT_DEFAULTS } from "./defaults.js";
import { validators, schemas } from "./schemas.js";
import { schemaProblems, formatSchemaErrors, type SchemaProblem } from "./format-errors.js";
import { nonJsonValues } from "../lemfile/json-values.js";
import { measurementHash } from "./hash.js";
import { inputError } from "../errors.js";
import type { ExecutionConfig, ExperimentConfig, ExperimentEntry, Lemfile, RunnerSpec, Backend } from "../lemfile/types.js";

/** One unique measurement config: every experiment entry that produced it is one of its names. */
export interface Experiment {
  hash: string;
  names: string[];
  /** The sweeps its entries came from (sweep()'s name). */
  groups: string[];
  config: ExperimentConfig;
}

/** A sweep point skipped because the user asked to skip invalid combinations. */
export interface InvalidExperiment {
  name: string;
  errors: string[];
}

export interface ExpandedLemfile {
  experiments: Experiment[];
  /** Skipped sweep points (only with skip_invalid / --skip-invalid); anything else invalid throws. */
  invalid: InvalidExperiment[];
  execution: Required<ExecutionConfig>;
  runners: Partial<Record<Backend, RunnerSpec>>;
  resultsDir?: string;
}

/** Nodes (experiments × cycles) lem will plan at most: far past any study, well short of exhausting memory. */
export const MAX_NODES = 1_000_000;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Deep merge: objects merge key by key, anything else in `over` replaces what is in `under`. */
export function deepMerge(under: Json, over: Json): Json {
  const out: Json = { ...under };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    out[key] = isObject(value) && isObject(out[key]) ? deepMerge(out[key] as Json, value) : value;
  }
  return out;
}

/**
 * Validates one merged experiment and applies the schema's defaults. The backend's own section
 * is created empty first, so its defaults (e.g. pytorch.batch_size) are part of the hash too.
 */
export function normalizeExperiment(merged: Json): { config: ExperimentConfig } | { errors: string[]; problems: SchemaProblem[] } {
  const config = structuredClone(merged);
  const backend = (config.backend ??= "pytorch");
  if ((backend === "pytorch" || backend === "vllm") && config[backend] === undefined) config[backend] = {};
  if (backend === "vllm" && isObject(config.vllm)) {
    config.vllm.engine ??= {};
    config.vllm.sampling ??= {};
  }
  if (!validators.experiment(config)) {
    const problems = schemaProblems(validators.experiment.errors ?? [], config, schemas.experiment);
    return { errors: problems.map((p) => p.line), problems };
  }
  // Options added after results were stored are hashed only when they change the measurement:
  // written out at their "off" value they are the config without them, and keep its hash.
  if (config.scenario === "offline") delete config.scenario;
  if (isObject(config.energy) && config.energy.phase_split === false) delete config.energy.phase_split;
  return { config: config as unknown as ExperimentConfig };
}

/** Digest of a dataset file (path as written in the lemfile), or undefined when it does not exist. */
export type DatasetDigest = (path: string) => string | undefined;

export interface ExpandOptions {
  /** Reads a dataset file's sha256 (the CLI passes one that reads the project's files). */
  digest?: DatasetDigest;
  /** --skip-invalid: skip sweep points invalid only through a combination of values, in every sweep. */
  skipInvalid?: boolean;
}

/**
 * Lemfile → unique, validated, hashed experiments. Pure: `file` is only used in messages, and
 * dataset files are read through `options.digest`. Throws a LemError (exit 2), naming the
 * experiment and field, for a value JSON cannot hold, a wrong lemfile shape, an invalid explicit
 * experiment, an invalid sweep value or base, two configs under one name, or too many nodes.
 * Only sweep points that a combination of values makes invalid may be skipped, where asked.
 */
export function expandLemfile(raw: unknown, file: string, options: ExpandOptions | DatasetDigest = {}): ExpandedLemfile {
  const { digest, skipInvalid = false } = typeof options === "function" ? { digest: options } : options;
  rejectNonJson(raw, file);
  const lemfile = structuredClone(raw) as Lemfile;
  if (!validators.lemfile(lemfile)) {
    const lines = formatSchemaErrors(validators.lemfile.errors ?? [], lemfile, schemas.lemfile);
    throw inputError(`${file}: the lemfile's export is not valid`, "see the lemfile API in the README", lines);
  }
  const execution = lemfile.execution as Required<ExecutionConfig>;
  checkNodeCount(file, lemfile.experiments.length, execution.cycles, "experiment entries");

  const defaults = (lemfile.defaults ?? {}) as Json;
  const evaluated = lemfile.experiments.map((entry, index) => evaluate(entry, index, defaults, digest));
  const { fatal, skipped } = judgeInvalid(evaluated, skipInvalid);
  if (fatal.length) {
    throw inputError(
      `${file}: ${fatal.length === 1 ? "an experiment is not valid" : `${fatal.length} problems in experiments`}`,
      "fix the fields named above (a typo is an error, never skipped)",
      fatal.length > 12 ? [...fatal.slice(0, 12), `... and ${fatal.length - 12} more`] : fatal,
    );
  }

  const byHash = new Map<string, Experiment>();
  const nameToHash = new Map<string, string>();
  for (const point of evaluated) {
    if (!point.config) continue;
    const hash = measurementHash(point.config);
    const name = point.given ?? `exp-${hash.slice(0, 8)}`;
    const previous = nameToHash.get(name);
    if (previous !== undefined && previous !== hash) {
      throw inputError(
        `${file}: experiment name "${name}" is used for two different configs`,
        "give each experiment its own name (sweep names are <name>-<value>-...)",
      );
    }
    nameToHash.set(name, hash);
    const existing = byHash.get(hash);
    if (existing) {
      if (!existing.names.includes(name)) existing.names.push(name);
      if (point.group && !existing.groups.includes(point.group)) existing.groups.push(point.group);
    } else {
      byHash.set(hash, { hash, names: [name], groups: point.group ? [point.group] : [], config: point.config });
    }
  }

  if (byHash.size === 0) {
    const notes = skipped.flatMap((i) => i.errors.map((e) => `sweep point "${i.name}": ${e}`));
    throw inputError(
      skipped.length ? `${file}: every experiment was skipped as invalid` : `${file}: the lemfile defines no experiments`,
      skipped.length ? "fix the fields named above" : "add at least one entry to experiments",
      notes.slice(0, 12),
    );
  }
  checkNodeCount(file, byHash.size, execution.cycles, "experiments");
  return {
    experiments: [...byHash.values()],
    invalid: skipped,
    execution,
    runners: lemfile.runners ?? {},
    resultsDir: lemfile.results_dir,
  };
}

/** One experiment entry after merging defaults: its config, or the problems that stop it. */
export interface EvaluatedEntry {
  label: string;
  given?: string;
  group?: string;
  point?: Record<string, unknown>;
  skip: boolean;
  config?: ExperimentConfig;
  problems: SchemaProblem[];
}

const NO_PROBLEMS: SchemaProblem[] = [];

function evaluate(entry: ExperimentEntry, index: number, defaults: Json, digest?: DatasetDigest): EvaluatedEntry {
  const { name: given, sweep: group, sweep_point: point, skip_invalid: skip, ...fields } = entry;
  const evaluated: EvaluatedEntry = { label: given ?? `experiments[${index}]`, given, group, point, skip: skip === true, problems: NO_PROBLEMS };
  const result = normalizeExperiment(deepMerge(defaults, fields as Json));
  if ("problems" in result) {
    evaluated.problems = result.problems;
    return evaluated;
  }
  // A dataset file is an input like any other: its contents are part of the hash.
  const dataset = result.config.dataset ?? EXPERIMENT_DEFAULTS.dataset;
  if (dataset !== "synthetic" && digest) {
    const sha = digest(dataset);
    if (!sha) {
      const line = `dataset: no such file "${dataset}" (relative paths are from the lemfile's folder; or use "synthetic")`;
      evaluated.problems = [{ line, fields: ["dataset"] }];
      return evaluated;
    }
    result.config.dataset_sha256 = sha;
  } else {
    result.config.dataset_sha256 = null;
  }
  evaluated.config = result.config;
  return evaluated;
}

const SKIP_HINT = "to skip such points, pass { skip_invalid: true } as sweep()'s 4th argument or --skip-invalid";

/**
 * Which invalid entries stop the build (`fatal`, one line each) and which are skipped. An explicit
 * experiment is always fatal. In a sweep, a problem no axis explains (from the base or the
 * defaults) is fatal, and so is an axis value invalid in every point that holds it; a point
 * invalid only through a combination of values valid elsewhere is skipped where asked.
 */
export function judgeInvalid(entries: EvaluatedEntry[], skipInvalid: boolean): { fatal: string[]; skipped: InvalidExperiment[] } {
  const fatal: string[] = [];
  const skipped: InvalidExperiment[] = [];
  const sweeps = new Map<string, EvaluatedEntry[]>();
  for (const entry of entries) {
    if (entry.group !== undefined && entry.point) {
      const points = sweeps.get(entry.group) ?? [];
      points.push(entry);
      sweeps.set(entry.group, points);
    } else if (!entry.config) {
      for (const p of entry.problems) fatal.push(`experiment "${entry.label}": ${p.line}`);
    }
  }
  for (const [group, points] of sweeps) {
    if (points.every((p) => p.config)) continue;
    judgeSweep(group, points, skipInvalid, fatal, skipped);
  }
  return { fatal, skipped };
}

const related = (field: string, axis: string) => field === axis || field.startsWith(`${axis}.`) || axis.startsWith(`${field}.`);

/** One axis value's share of a sweep's invalid points: in how many it is to blame, and why. */
interface Blame { count: number; axis: string; value: unknown; lines: Set<string> }

function judgeSweep(group: string, points: EvaluatedEntry[], skipInvalid: boolean, fatal: string[], skipped: InvalidExperiment[]) {
  const axes = [...new Set(points.flatMap((p) => Object.keys(p.point ?? {})))];
  const keyOf = (point: EvaluatedEntry, axis: string) => `${axis}\u0000${JSON.stringify(point.point?.[axis])}`;
  // Per axis value: how many points hold it, and in how many of them it is to blame.
  const holding = new Map<string, number>();
  const blamed = new Map<string, Blame>();
  const baseLines = new Set<string>();
  const blamedIn = new Map<EvaluatedEntry, string[]>();
  for (const point of points) {
    for (const axis of axes) holding.set(keyOf(point, axis), (holding.get(keyOf(point, axis)) ?? 0) + 1);
    if (point.config) continue;
    const keys = new Set<string>();
    for (const problem of point.problems) {
      const culprits = axes.filter((axis) => problem.fields.some((f) => related(f, axis)));
      if (culprits.length === 0) baseLines.add(problem.line);
      for (const axis of culprits) {
        const key = keyOf(point, axis);
        const entry = blamed.get(key) ?? { count: 0, axis, value: point.point?.[axis], lines: new Set<string>() };
        if (!keys.has(key)) entry.count += 1;
        entry.lines.add(problem.line);
        blamed.set(key, entry);
        keys.add(key);
      }
    }
    blamedIn.set(point, [...keys]);
  }
  for (const line of baseLines) fatal.push(`sweep "${group}": ${line} (no axis sets it: fix the sweep's base or the lemfile's defaults)`);
  const bad = new Set<string>();
  const badByAxis = new Map<string, Blame[]>();
  for (const [key, b] of blamed) {
    if (b.count !== holding.get(key)) continue;
    bad.add(key);
    badByAxis.set(b.axis, [...(badByAxis.get(b.axis) ?? []), b]);
  }
  for (const [axis, values] of badByAxis) {
    const valuesOfAxis = [...holding.keys()].filter((k) => k.startsWith(`${axis}\u0000`)).length;
    const lines = (list: Blame[]) => [...new Set(list.flatMap((b) => [...b.lines]))].join("; ");
    // A typo'd axis path fails for every value: one line says so.
    if (values.length === valuesOfAxis && values.length > 1) fatal.push(`sweep "${group}": axis ${axis} is invalid for every value: ${lines(values)}`);
    else for (const b of values) fatal.push(`sweep "${group}": axis ${axis} = ${JSON.stringify(b.value)} is invalid in every point: ${lines([b])}`);
  }
  if (baseLines.size > 0) return;
  const combinations: string[] = [];
  for (const [point, keys] of blamedIn) {
    if (keys.some((k) => bad.has(k))) continue;
    const errors = point.problems.map((p) => p.line);
    if (skipInvalid || point.skip) skipped.push({ name: point.label, errors });
    else combinations.push(`sweep "${group}": point "${point.label}" is invalid (a combination of values valid elsewhere): ${errors.join("; ")}; ${SKIP_HINT}`);
  }
  fatal.push(...combinations);
}

/** Functions, NaN, Infinity, bigints, class instances: named by path before anything clones them. */
function rejectNonJson(raw: unknown, file: string) {
  const found = nonJsonValues(raw);
  if (found.length === 0) return;
  if (found[0].path === "") {
    throw inputError(`${file}: the default export is ${found[0].what}, not the lemfile object`, "end the lemfile with `export default defineLemfile({ experiments: [...] })`");
  }
  const entries = isObject(raw) && Array.isArray(raw.experiments) ? raw.experiments : [];
  const describe = (path: string) => {
    const m = /^experiments\[(\d+)\]\.?(.*)$/.exec(path);
    if (!m) return path;
    const entry = entries[Number(m[1])] as { name?: unknown } | undefined;
    const name = typeof entry?.name === "string" ? `experiment "${entry.name}"` : `experiments[${m[1]}]`;
    return m[2] ? `${name}: ${m[2]}` : name;
  };
  throw inputError(
    `${file}: ${found.length === 1 ? "a value is" : "values are"} not plain data (JSON cannot hold ${found.length === 1 ? "it" : "them"}, so neither can the hash or the harness)`,
    "use finite numbers, strings, booleans, null, plain objects and arrays (e.g. write a large count as 1000000, a date as a string)",
    found.map((f) => `${describe(f.path)} is ${f.what}`),
  );
}

function checkNodeCount(file: string, experiments: number, cycles: number, what: string) {
  const nodes = experiments * (cycles ?? 1);
  if (nodes <= MAX_NODES) return;
  throw inputError(
    `${file}: execution.cycles: ${cycles} cycles × ${experiments.toLocaleString("en")} ${what} = ${nodes.toLocaleString("en")} nodes, more than lem plans (${MAX_NODES.toLocaleString("en")})`,
    "lower execution.cycles or sweep fewer values",
  );
}
