// Experiment config types. schemas/experiment.schema.json is the source of truth; the test
// "types match the schema" keeps the key lists below and the schema's properties identical.

export type Backend = "pytorch" | "vllm";
export type Precision = "fp32" | "fp16" | "bf16";

export interface DecoderConfig {
  temperature?: number;
  do_sample?: boolean;
  top_k?: number;
  top_p?: number;
  repetition_penalty?: number;
  ignore_eos?: boolean;
}
export interface WarmupConfig { enabled?: boolean; n_warmup?: number }
export interface BaselineConfig { enabled?: boolean; duration_seconds?: number }
export interface EnergyConfig {
  backend?: "auto" | "nvml" | "rapl" | "none";
  sample_interval_ms?: number;
  /** Prefill and decode energy from an extra prefill-only pass over the same prompts (hashed; costs that pass). */
  phase_split?: boolean;
}
export interface PytorchConfig {
  batch_size?: number;
  device?: "auto" | "cpu" | "cuda";
  attn_implementation?: "sdpa" | "eager";
  num_threads?: number | null;
}
export interface VllmConfig {
  engine?: {
    max_num_seqs?: number;
    gpu_memory_utilization?: number;
    tensor_parallel_size?: number;
    enforce_eager?: boolean;
    max_model_len?: number | null;
    enable_prefix_caching?: boolean;
  };
  sampling?: { min_tokens?: number | null; presence_penalty?: number; frequency_penalty?: number };
}

/** The measurement config of one experiment: everything in it is hashed. */
/** scenario "serving": a server under open-loop load (schemas/experiment.schema.json says what each field does). */
export interface ServingConfig {
  /** Requests per second, or "inf": every request at once. */
  request_rate: number | "inf";
  /** Gamma shape of the gaps between requests: 1 is Poisson. */
  burstiness?: number;
  max_concurrency?: number | null;
  num_requests?: number;
  warmup_requests?: number;
  /** transformers serve --continuous-batching (backend pytorch); the KV cache is always capped. */
  engine?: { num_blocks?: number; block_size?: number; max_batch_tokens?: number | null };
}
export type Scenario = "offline" | "serving";

export interface ExperimentConfig {
  model: string;
  backend: Backend;
  n?: number;
  dataset?: string;
  /** Set by lem from the dataset file's contents (not by hand). */
  dataset_sha256?: string | null;
  precision?: Precision;
  random_seed?: number;
  max_input_tokens?: number;
  max_output_tokens?: number;
  decoder?: DecoderConfig;
  warmup?: WarmupConfig;
  baseline?: BaselineConfig;
  energy?: EnergyConfig;
  pytorch?: PytorchConfig;
  vllm?: VllmConfig;
  /** Absent: offline. */
  scenario?: Scenario;
  serving?: ServingConfig;
}

/** Runtime-checked mirror of ExperimentConfig's keys (the compiler keeps it exhaustive). */
export const EXPERIMENT_KEYS = {
  model: true, backend: true, n: true, dataset: true, dataset_sha256: true, precision: true, random_seed: true,
  max_input_tokens: true, max_output_tokens: true, decoder: true, warmup: true, baseline: true,
  energy: true, pytorch: true, vllm: true, scenario: true, serving: true,
} as const satisfies Record<keyof ExperimentConfig, true>;

/** One entry of `experiments`: a partial config (defaults fill the rest) with an optional name. */
export type ExperimentEntry = Partial<ExperimentConfig> & {
  name?: string;
  /** Set by sweep(): the sweep a point came from, so an edited point can be traced to its old value. */
  sweep?: string;
  /** Set by sweep(): this point's value of each axis (dotted path → value), to tell which value made it invalid. Not hashed. */
  sweep_point?: Record<string, SweepValue>;
  /** Set by sweep(..., { skip_invalid: true }): skip this point if only a combination of valid values makes it invalid. */
  skip_invalid?: boolean;
};

/** A value on a sweep axis: plain JSON data. */
export type SweepValue = string | number | boolean | null | { readonly [key: string]: unknown } | readonly unknown[];

/** sweep()'s fourth argument. */
export interface SweepOptions {
  /**
   * Skip (and report by name) points that are invalid only through a combination of axis values
   * that are each valid elsewhere. A value invalid in every point is always an error.
   */
  skip_invalid?: boolean;
}

export type RunnerSpec = "local" | "docker" | `docker:${string}`;

export interface ExecutionConfig {
  cycles?: number;
  cycle_order?: "sequential" | "interleaved" | "shuffled";
  shuffle_seed?: number;
  experiment_gap_seconds?: number;
  cycle_gap_seconds?: number;
}

export interface Lemfile {
  defaults?: Partial<ExperimentConfig>;
  experiments: ExperimentEntry[];
  execution?: ExecutionConfig;
  runners?: Partial<Record<Backend, RunnerSpec>>;
  /** Where results live, relative to the lemfile (default "results"). */
  results_dir?: string;
}

// ---- dotted paths for sweep(), so editors complete "pytorch.batch_size" and check its values ----
type Leaf = string | number | boolean | null;
type PathsOf<T, Depth extends unknown[] = []> = Depth["length"] extends 3
  ? never
  : {
      [K in keyof T & string]-?: NonNullable<T[K]> extends Leaf
        ? K
        : NonNullable<T[K]> extends object
          ? `${K}.${PathsOf<NonNullable<T[K]>, [...Depth, 1]>}`
          : never;
    }[keyof T & string];

type ValueAt<T, P extends string> = P extends `${infer Head}.${infer Rest}`
  ? Head extends keyof T ? ValueAt<NonNullable<T[Head]>, Rest> : never
  : P extends keyof T ? NonNullable<T[P]> | (null extends T[P] ? null : never) : never;

export type SweepPath = PathsOf<ExperimentConfig>;
export type SweepAxes = { [P in SweepPath]?: ReadonlyArray<ValueAt<ExperimentConfig, P>> };
