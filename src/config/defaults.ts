import { schemas } from "./schemas.js";
import { schemaDefaults } from "./schema-defaults.js";
import type { ExperimentConfig } from "../lemfile/types.js";

/** T with every field present, as the schema's defaults leave it (nested objects too; null stays null). */
export type Filled<T> = {
  readonly [K in keyof T]-?: NonNullable<T[K]> extends readonly unknown[] ? Exclude<T[K], undefined>
    : NonNullable<T[K]> extends object ? Filled<NonNullable<T[K]>> : Exclude<T[K], undefined>;
};

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const experiment = schemaDefaults(schemas.experiment);

/**
 * The experiment schema's defaults, read from schemas/experiment.schema.json (their one home): what
 * normalizeExperiment fills into every config. For code that must name a default; a config that
 * came through normalizeExperiment already holds them.
 */
export const EXPERIMENT_DEFAULTS = deepFreeze(experiment.filled) as unknown as Filled<Omit<ExperimentConfig, "model" | "pytorch" | "vllm">>;

/** The defaults inside each backend's section, which normalizeExperiment creates for the config's backend. */
export const BACKEND_DEFAULTS = deepFreeze(experiment.sections) as unknown as Filled<Pick<ExperimentConfig, "pytorch" | "vllm">>;
