import { validators, schemas } from "./schemas.js";
import { formatSchemaErrors } from "./format-errors.js";
import { measurementHash } from "../graph/hash.js";
import { inputError } from "../errors.js";
import type { ExecutionConfig, ExperimentConfig, Lemfile, RunnerSpec, Backend } from "../lemfile/types.js";

/** One unique measurement config: every experiment entry that produced it is one of its names. */
export interface Experiment {
  hash: string;
  names: string[];
  /** The sweeps its entries came from (sweep()'s name). */
  groups: string[];
  config: ExperimentConfig;
}

export interface InvalidExperiment {
  name: string;
  errors: string[];
}

export interface ExpandedLemfile {
  experiments: Experiment[];
  invalid: InvalidExperiment[];
  execution: Required<ExecutionConfig>;
  runners: Partial<Record<Backend, RunnerSpec>>;
  resultsDir?: string;
}

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
export function normalizeExperiment(merged: Json): { config: ExperimentConfig } | { errors: string[] } {
  const config = structuredClone(merged);
  const backend = (config.backend ??= "pytorch");
  if ((backend === "pytorch" || backend === "vllm") && config[backend] === undefined) config[backend] = {};
  if (backend === "vllm" && isObject(config.vllm)) {
    config.vllm.engine ??= {};
    config.vllm.sampling ??= {};
  }
  if (!validators.experiment(config)) {
    return { errors: formatSchemaErrors(validators.experiment.errors ?? [], config, schemas.experiment) };
  }
  return { config: config as unknown as ExperimentConfig };
}

/** Digest of a dataset file (path as written in the lemfile), or undefined when it does not exist. */
export type DatasetDigest = (path: string) => string | undefined;

/**
 * Lemfile → unique, validated, hashed experiments. Pure: `file` is only used in messages, and
 * dataset files are read through `digest` (the CLI passes one that reads the project's files).
 * Throws a LemError (exit 2) when the lemfile's own shape is wrong, when two different
 * configs share a name, or when no valid experiment remains.
 */
export function expandLemfile(raw: unknown, file: string, digest?: DatasetDigest): ExpandedLemfile {
  const lemfile = structuredClone(raw) as Lemfile;
  if (!validators.lemfile(lemfile)) {
    const lines = formatSchemaErrors(validators.lemfile.errors ?? [], lemfile, schemas.lemfile);
    throw inputError(`${file}: the lemfile's export is not valid`, "see the lemfile API in the README", lines);
  }
  const defaults = (lemfile.defaults ?? {}) as Json;
  const byHash = new Map<string, Experiment>();
  const nameToHash = new Map<string, string>();
  const invalid: InvalidExperiment[] = [];

  lemfile.experiments.forEach((entry, index) => {
    const { name: given, sweep: group, ...fields } = entry;
    const label = given ?? `experiments[${index}]`;
    const result = normalizeExperiment(deepMerge(defaults, fields as Json));
    if ("errors" in result) {
      invalid.push({ name: label, errors: result.errors });
      return;
    }
    // A dataset file is an input like any other: its contents are part of the hash.
    const dataset = result.config.dataset ?? "synthetic";
    if (dataset !== "synthetic" && digest) {
      const sha = digest(dataset);
      if (!sha) {
        invalid.push({ name: label, errors: [`dataset: no such file "${dataset}" (relative paths are from the lemfile's folder; or use "synthetic")`] });
        return;
      }
      result.config.dataset_sha256 = sha;
    } else {
      result.config.dataset_sha256 = null;
    }
    const hash = measurementHash(result.config);
    const name = given ?? `exp-${hash.slice(0, 8)}`;
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
      if (group && !existing.groups.includes(group)) existing.groups.push(group);
    } else {
      byHash.set(hash, { hash, names: [name], groups: group ? [group] : [], config: result.config });
    }
  });

  if (byHash.size === 0) {
    const notes = invalid.flatMap((i) => i.errors.map((e) => `experiment "${i.name}": ${e}`));
    throw inputError(
      invalid.length ? `${file}: no valid experiment remains` : `${file}: the lemfile defines no experiments`,
      invalid.length ? "fix the fields named below" : "add at least one entry to experiments",
      notes,
    );
  }
  return {
    experiments: [...byHash.values()],
    invalid,
    execution: lemfile.execution as Required<ExecutionConfig>,
    runners: lemfile.runners ?? {},
    resultsDir: lemfile.results_dir,
  };
}
