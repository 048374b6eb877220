import type { ExperimentConfig } from "../lemfile/types.js";
import { isSynthetic, SYNTHETIC_PREFIX } from "../config/models.js";
import { BACKEND_DEFAULTS, EXPERIMENT_DEFAULTS } from "../config/defaults.js";
import { gpusPerRun } from "../config/gpus.js";

/**
 * Parameter counts of the synthetic:<preset> models, as docker/harness/lem_harness/models/presets.py
 * computes them (test/matrix-cost.test.ts runs the harness and compares).
 */
export const SYNTHETIC_PARAMS: Readonly<Record<string, number>> = {
  tiny: 106_816,
  small: 26_089_984,
  "1b": 1_235_814_400,
  "8b": 8_030_261_248,
};

/** A model of unknown size counts as 1B parameters: a middle guess that measured wall times then correct. */
const UNKNOWN_PARAMS = 1e9;
/** Process start, torch import and model load, before any prompt (seconds). */
const FIXED_SECONDS = 8;
/** Compute rate the unscaled model assumes (FLOP/s): only ratios matter once anything is measured. */
const ASSUMED_FLOPS = 2e10;

/** Parameters of a config's model: the preset's, else a size in its name ("Llama-3.2-1B" → 1.0e9, "…-350M"), else 1B. */
export function modelParams(model: string): number {
  if (isSynthetic(model)) return SYNTHETIC_PARAMS[model.slice(SYNTHETIC_PREFIX.length)] ?? UNKNOWN_PARAMS;
  const sizes = [...model.matchAll(/(?:^|[^a-z0-9.])(\d+(?:\.\d+)?)([bm])(?![a-z0-9])/gi)];
  const last = sizes.at(-1);
  if (!last) return UNKNOWN_PARAMS;
  return Number(last[1]) * (last[2].toLowerCase() === "b" ? 1e9 : 1e6);
}

/**
 * Expected seconds of one cycle of a config before anything is measured: a fixed start-up, the
 * idle baseline, and 2·params FLOPs per token over every prompt (warmup included, and the prefill
 * pass of energy.phase_split), batches sharing the work (sub-linearly: a batch is not free).
 * Prompts × tokens × model size, as a rate.
 */
export function modelSeconds(config: ExperimentConfig): number {
  // The configs planned have the schema's defaults applied (normalizeExperiment); where a field is
  // absent anyway, the schema's own default stands in, never a number restated here.
  const d = EXPERIMENT_DEFAULTS;
  const engine = BACKEND_DEFAULTS.vllm.engine;
  const warmup = (config.warmup?.enabled ?? d.warmup.enabled) ? config.warmup?.n_warmup ?? d.warmup.n_warmup : 0;
  const prompts = (config.n ?? d.n) + warmup;
  const tokens = (config.max_input_tokens ?? d.max_input_tokens) + (config.max_output_tokens ?? d.max_output_tokens);
  const batch = config.backend === "vllm"
    ? Math.min(config.vllm?.engine?.max_num_seqs ?? engine.max_num_seqs, prompts)
    : config.pytorch?.batch_size ?? BACKEND_DEFAULTS.pytorch.batch_size;
  const tp = gpusPerRun(config);
  const baseline = (config.baseline?.enabled ?? d.baseline.enabled) ? config.baseline?.duration_seconds ?? d.baseline.duration_seconds : 0;
  const rate = (2 * modelParams(config.model)) / ASSUMED_FLOPS / Math.sqrt(Math.max(1, batch)) / tp;
  // energy.phase_split adds a prefill-only pass: the measured prompts again, one new token each.
  const prefillPass = config.energy?.phase_split ? (config.n ?? d.n) * ((config.max_input_tokens ?? d.max_input_tokens) + 1) : 0;
  return FIXED_SECONDS + baseline + rate * (prompts * tokens + prefillPass);
}

/** A stored wall time of one config on the hardware it will run on. */
export interface Measured { config: ExperimentConfig; seconds: number }

export interface CostModel {
  /** Expected seconds for one cycle: the config's own measured mean where there is one, else the scaled model. */
  seconds(hash: string, config: ExperimentConfig): number;
  /** Whether an estimate came from the config's own measurements. */
  measured(hash: string): boolean;
  /** measured ÷ modelled over every measured config (1 when nothing is measured). */
  readonly scale: number;
}

/**
 * The model scaled by what has been measured: scale = Σ measured ÷ Σ modelled over the configs
 * with stored wall times (a ratio estimator: robust to a few outliers, exact for one machine's speed).
 */
export function costModel(measured: ReadonlyMap<string, Measured>): CostModel {
  let wall = 0;
  let modelled = 0;
  for (const m of measured.values()) { wall += m.seconds; modelled += modelSeconds(m.config); }
  const scale = modelled > 0 && wall > 0 ? wall / modelled : 1;
  return {
    scale,
    seconds: (hash, config) => measured.get(hash)?.seconds ?? modelSeconds(config) * scale,
    measured: (hash) => measured.has(hash),
  };
}
