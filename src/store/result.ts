import type { ExperimentConfig } from "../lemfile/types.js";
import type { RunnerType } from "../config/runner-kinds.js";

// Types for schemas/result.schema.json (the schema is the source of truth; a test checks that
// the required keys listed here match it).

export interface LatencyStats { n: number; mean: number | null; p50: number | null; p90: number | null; p95: number | null; p99: number | null; method?: string }

export type EnergyScope = "gpu" | "cpu" | "dram";

export interface ExperimentResult {
  schema_version: 1;
  hash: string;
  cycle: number;
  names?: string[];
  config: ExperimentConfig;
  effective_config: Record<string, unknown> & {
    runner_type?: RunnerType;
    runner_image?: string | null;
    runner_source?: string;
    image_digest?: string | null;
    /** Host-side seconds for the whole node (added by lem; lem matrix balances shards by it). */
    wall_s?: number;
    gpus?: { index: string; uuid: string | null }[];
  };
  hardware: string;
  started_at: string;
  finished_at: string;
  duration_s: number;
  tokens: { input: number; output: number; total: number; prompts: number };
  throughput: { output_tokens_per_s: number; total_tokens_per_s: number; requests_per_s: number };
  latency: { ttft_ms: LatencyStats; itl_ms: LatencyStats; e2e_ms: LatencyStats };
  energy: {
    status: "measured" | "estimated" | "unavailable";
    method: string | null;
    total_j: number | null;
    adjusted_j: number | null;
    per_output_token_j: number | null;
    avg_power_w: number | null;
    peak_power_w: number | null;
    window_s: number;
    reason: string | null;
    /** What total_j and the figures derived from it cover: gpu on GPU runs, cpu on CPU runs (absent in older results: the same). */
    scope?: EnergyScope | null;
    /** Every source read over the window, each in its own scope; a source that could not be read says why. */
    sources?: { scope: EnergyScope; status: "measured" | "unavailable"; method: string | null; total_j: number | null; avg_power_w?: number | null; covers?: string[]; reason: string | null }[];
    /** The sum of the measured sources, and which they are (e.g. "gpu+cpu+dram"). */
    combined_scope?: string;
    combined_j?: number;
    devices?: { index: number; name?: string; uuid?: string; mig_uuids?: string[]; mig_profile?: string; total_j: number | null }[];
    power_reading?: "instantaneous" | "averaged_1s" | "counter_delta";
    cross_check?: { integrated_j: number | null; relative_difference: number | null; tolerance: number | null; reason: string | null };
    samples?: { attempted: number; missing: number };
    notes?: string[];
    timeline?: (number | null)[][];
    /** energy.phase_split: prefill (a one-new-token pass over the same prompts) and decode (the rest). */
    phases?: {
      method: string; scope: string | null; reason: string | null;
      prefill: { total_j: number | null; window_s: number; input_tokens: number; prompts: number; per_input_token_j: number | null; per_request_j: number | null; flags: string[] };
      decode: { total_j: number | null; window_s: number; output_tokens: number; per_output_token_j: number | null };
    };
  };
  baseline: {
    power_w: number | null; duration_s: number; reason: string | null;
    placement?: "before_warmup" | "after_warmup"; cooldown_s?: number; sm_clock_mhz?: number | null; pstate?: string | null;
  };
  memory: { peak_bytes: number | null; device: "cpu" | "cuda"; method: string };
  flops: { total: number | null; per_output_token: number | null; n_params: number | null; method: string; estimated: true };
  thermal: { temp_before_c: number | null; temp_after_c: number | null; throttle_reasons: string[]; reason?: string | null };
  environment: Record<string, unknown> & { python: string; torch: string | null; platform: string; in_container: boolean; container_id?: string | null; gpu_settings?: GpuSettings[] | null };
  quality_flags: string[];
  /** scenario serving only: the load, its per-request figures and the steady-state window. */
  serving?: ServingResult;
}

/** One measured request, for SLOs applied at report time: [ttft_ms, tpot_ms, e2e_ms, output_tokens, ok]. */
export type RequestRow = [number | null, number | null, number | null, number | null, boolean];

export interface ServingResult {
  server: { kind: "transformers" | "vllm"; startup_s: number; batch: number | null; batch_source: string; metrics: string | null; batch_utilisation?: number | null; warmup_note?: string | null };
  request_rate: number | "inf";
  burstiness: number;
  max_concurrency: number | null;
  num_requests: number;
  completed: number;
  failed: number;
  errors?: { message: string; count: number }[];
  duration_s: number;
  request_throughput: number | null;
  output_throughput: number | null;
  ttft_ms: LatencyStats;
  tpot_ms: LatencyStats;
  itl_ms: LatencyStats;
  e2e_ms: LatencyStats;
  arrival_error_ms: LatencyStats;
  peak_concurrency: number;
  steady_state: { start_s: number | null; end_s: number | null; duration_s: number | null; tokens: number | null; energy_j: number | null; energy_per_token_j: number | null; reason: string | null };
  energy_per_request_j: { mean: number | null; p90: number | null; reason: string | null };
  goodput: { requests_per_s: number | null; slo: Record<string, number> | null; reason: string | null };
  requests: RequestRow[];
}

/** Power limit and application clocks a GPU ran under (environment.gpu_settings); null where NVML could not read one. */
export interface GpuSettings {
  uuid: string;
  power_limit_w: number | null;
  default_power_limit_w: number | null;
  applications_clocks_mhz: { sm: number | null; memory: number | null } | null;
  default_applications_clocks_mhz: { sm: number | null; memory: number | null } | null;
}

export const RESULT_REQUIRED_KEYS = [
  "schema_version", "hash", "cycle", "config", "effective_config", "hardware", "started_at", "finished_at",
  "duration_s", "tokens", "throughput", "latency", "energy", "baseline", "memory", "flops", "thermal",
  "environment", "quality_flags",
] as const satisfies readonly (keyof ExperimentResult)[];
