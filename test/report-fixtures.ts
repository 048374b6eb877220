import type { ExperimentResult, RequestRow } from "../src/store/result.js";
import { seededRandom } from "../src/graph/nodes.js";
import { config } from "./helpers/fixtures.js";
import { fakeResult } from "./helpers/fixtures.js";

// Synthetic, schema-valid results of a sweep (batch size × precision × max output tokens), for the
// report's tests and bench/report: energy falls with batch size and rises with precision, with noise.

export interface SyntheticOptions {
  configs: number;
  cycles: number;
  hardware?: string;
  /** Power samples per cycle (10 Hz over the window). */
  timelineSamples?: number;
  seed?: number;
  /** Leave energy unmeasured (a CPU without RAPL). */
  unmeasured?: boolean;
  /** Relative cycle-to-cycle noise (peak to peak) of throughput and power; 0.08 unless given. */
  noise?: number;
  /** Make every window this long, in s (a config too small to measure). */
  windowS?: number;
  /** The torch version each cycle ran on (unset: 2.5.1 for all); a different one mixes software stacks. */
  torch?: (cycle: number) => string;
}

const BATCH = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
const PRECISION = ["fp32", "fp16", "bf16"] as const;
const FACTOR = { fp32: 1.6, fp16: 1, bf16: 1.02 };

export function syntheticResults(o: SyntheticOptions): ExperimentResult[] {
  const rand = seededRandom(o.seed ?? 7);
  const hardware = o.hardware ?? "gpu:NVIDIA H100 80GB HBM3 x1";
  const out: ExperimentResult[] = [];
  for (let i = 0; i < o.configs; i++) {
    const batch = BATCH[i % BATCH.length];
    const precision = PRECISION[Math.floor(i / BATCH.length) % PRECISION.length];
    const maxOut = 32 * (1 + Math.floor(i / (BATCH.length * PRECISION.length)));
    const cfg = config({ precision, max_output_tokens: maxOut, pytorch: { batch_size: batch } });
    const hash = (0x1000000000000 + i * 7919).toString(16).padStart(16, "0").slice(-16);
    const name = `sweep-${batch}-${precision}-${maxOut}`;
    for (let cycle = 1; cycle <= o.cycles; cycle++) {
      const r = fakeResult({ hash, cycle, config: cfg, names: [name], hardware });
      const noise = 1 + (rand() - 0.5) * (o.noise ?? 0.08);
      const tps = 40 * batch ** 0.8 / FACTOR[precision] * (2 - noise);
      const power = (120 + 40 * Math.log2(batch)) * Math.sqrt(FACTOR[precision]) * noise;
      const jPerToken = power / tps;
      const output = 100 * batch;
      const window = o.windowS ?? output / tps;
      const total = jPerToken * output;
      const baseline = 60;
      r.duration_s = window;
      r.tokens = { input: 32 * batch, output, total: output + 32 * batch, prompts: batch };
      r.throughput = { output_tokens_per_s: tps, total_tokens_per_s: tps * 1.3, requests_per_s: batch / window };
      const itl = (1000 / tps) * batch;
      r.latency.ttft_ms = { n: batch, mean: 3 * itl, p50: 3 * itl, p90: 4 * itl, p95: 4.5 * itl, p99: 5 * itl, method: "per-request" };
      r.latency.itl_ms = { n: output - batch, mean: itl, p50: itl * 0.95, p90: itl * 1.3, p95: itl * 1.5, p99: itl * 2, method: "per-token" };
      const samples = o.timelineSamples ?? 0;
      const avg = power;
      if (o.unmeasured) {
        r.energy = { status: "unavailable", method: null, total_j: null, adjusted_j: null, per_output_token_j: null, avg_power_w: null, peak_power_w: null, window_s: window, reason: "RAPL not readable: /sys/class/powercap is not mounted" };
        r.baseline = { power_w: null, duration_s: 0, reason: "no energy counter" };
      } else {
        r.energy = {
          status: "measured", method: "nvml_total_energy", total_j: total, adjusted_j: total - baseline * window, per_output_token_j: jPerToken,
          avg_power_w: avg, peak_power_w: avg * 1.15, window_s: window, reason: null,
          ...(samples > 0 ? { timeline: Array.from({ length: samples }, (_, k) => [k / 10, avg * (1 + 0.1 * Math.sin(k / 7)) , 60 + k / samples, 1755]) } : {}),
        };
        r.baseline = { power_w: baseline, duration_s: 30, reason: null };
      }
      r.environment = { ...r.environment, torch: o.torch?.(cycle) ?? "2.5.1", transformers: "4.46.0" };
      r.memory = { peak_bytes: Math.round(2 ** 30 * (1 + batch / 64)), device: "cuda", method: "torch.cuda.max_memory_allocated" };
      // As the harness does: it flags a short window only where it had an energy counter to read.
      r.quality_flags = !o.unmeasured && window < 10 ? ["energy_window_under_10s"] : [];
      out.push(r);
    }
  }
  return out;
}

export const lat = (p50: number, p90: number) => ({ n: 10, mean: p50, p50, p90, p95: p90, p99: p90 });

/** Config fields of a serving fixture; its `serving` section is merged under the rate. */
export type ServingFields = { serving?: Record<string, unknown> } & Record<string, unknown>;

/** A serving cycle: `jPerToken` over the steady window, 10 requests of 8 tokens in 5 s, TTFT and TPOT per row. */
export function served(hash: string, cycle: number, jPerToken: number, rows: RequestRow[], rate: number | "inf" = 2, fields: ServingFields = {}): ExperimentResult {
  const cfg = config({ scenario: "serving", ...fields, serving: { request_rate: rate, ...fields.serving } });
  const r = fakeResult({ hash, cycle, config: cfg, names: [`serve-${hash.slice(0, 2)}`], hardware: "gpu:NVIDIA H100 x1" });
  r.energy = { status: "measured", method: "nvml", total_j: 100, adjusted_j: null, per_output_token_j: 100 / 80, avg_power_w: 20, peak_power_w: 30, window_s: 5, reason: null, scope: "gpu" };
  r.serving = {
    server: { kind: "transformers", startup_s: 6, batch: 2, batch_source: "max_concurrency", metrics: null },
    request_rate: rate, burstiness: 1, max_concurrency: 2, num_requests: rows.length, completed: rows.filter((x) => x[4]).length,
    failed: rows.filter((x) => !x[4]).length, duration_s: 5, request_throughput: rows.length / 5, output_throughput: 16,
    ttft_ms: lat(40, 90), tpot_ms: lat(10, 20), itl_ms: lat(10, 20), e2e_ms: lat(110, 200), arrival_error_ms: lat(0.5, 1), peak_concurrency: 2,
    steady_state: { start_s: 1, end_s: 4, duration_s: 3, tokens: 48, energy_j: jPerToken * 48, energy_per_token_j: jPerToken, reason: null },
    energy_per_request_j: { mean: jPerToken * 8, p90: jPerToken * 8, reason: null },
    goodput: { requests_per_s: null, slo: null, reason: "SLOs are applied by lem report and lem compare (--slo)" },
    requests: rows,
  };
  return r;
}

/**
 * A request-rate sweep of serving results: each engine (config fields, e.g. serving.engine) × each
 * rate × cycles. J/token falls and TTFT and TPOT rise with the rate's place in `rates` (as given,
 * not sorted), the second engine costs more; cycles differ by a few per cent, so every point has a CI.
 */
export function servingSweep(o: { engines: ServingFields[]; rates: (number | "inf")[]; cycles: number; hardware?: string }): ExperimentResult[] {
  const rows: RequestRow[] = Array.from({ length: 10 }, () => [30, 10, 100, 8, true]);
  return o.engines.flatMap((fields, e) => o.rates.flatMap((rate, k) => Array.from({ length: o.cycles }, (_, c) => {
    const hash = (0x2000000000000 + e * 4096 + k).toString(16).padStart(16, "0");
    const wobble = 1 + 0.03 * c;
    const r = served(hash, c + 1, (0.5 + 0.25 * e) / (1 + k) * wobble, rows, rate, fields);
    r.names = [`serve-e${e}-r${rate}`];
    if (o.hardware) r.hardware = o.hardware;
    r.latency.ttft_ms = { ...lat(30 * (1 + k) * wobble, 80 * (1 + k) * wobble), method: "per-request" };
    r.serving!.tpot_ms = lat((8 + 2 * k + e) * wobble, (12 + 3 * k + e) * wobble);
    return r;
  })));
}
