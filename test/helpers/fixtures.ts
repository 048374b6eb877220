import type { ExperimentResult } from "../../src/store/result.js";
import type { PlannedNode } from "../../src/graph/plan.js";
import { normalizeExperiment } from "../../src/config/expand.js";
import type { ExperimentConfig } from "../../src/lemfile/types.js";

/** A defaults-applied config, as the lemfile pipeline would produce it. */
export function config(fields: Record<string, unknown> = {}): ExperimentConfig {
  const result = normalizeExperiment({ model: "synthetic:tiny", backend: "pytorch", ...fields });
  if ("errors" in result) throw new Error(result.errors.join("; "));
  return result.config;
}

const stats = { n: 1, mean: 1, p50: 1, p90: 1, p95: 1, p99: 1 };

/** A schema-valid result for a node, for tests of everything around the harness. */
export function fakeResult(node: Pick<PlannedNode, "hash" | "cycle" | "config" | "names" | "hardware">): ExperimentResult {
  const now = new Date().toISOString();
  return {
    schema_version: 1, hash: node.hash, cycle: node.cycle, names: node.names, config: node.config,
    effective_config: { runner_type: "local", runner_image: null, runner_source: "test", image_digest: null },
    hardware: node.hardware, started_at: now, finished_at: now, duration_s: 1,
    tokens: { input: 8, output: 8, total: 16, prompts: 1 },
    throughput: { output_tokens_per_s: 8, total_tokens_per_s: 16, requests_per_s: 1 },
    latency: { ttft_ms: stats, itl_ms: stats, e2e_ms: stats },
    energy: { status: "unavailable", method: null, total_j: null, adjusted_j: null, per_output_token_j: null, avg_power_w: null, peak_power_w: null, window_s: 1, reason: "test" },
    baseline: { power_w: null, duration_s: 0, reason: "test" },
    memory: { peak_bytes: 1024, device: "cpu", method: "test" },
    flops: { total: 1, per_output_token: 1, n_params: 1, method: "test", estimated: true },
    thermal: { temp_before_c: null, temp_after_c: null, throttle_reasons: [] },
    environment: { python: "3", torch: null, platform: "test", cpu: {}, in_container: false, container_id: null },
    quality_flags: [],
  };
}
