import type { ExperimentResult, GpuSettings } from "../store/result.js";

// The software a cycle ran on, beside its config and hardware. Neither hashes it (an image rebuild
// must not re-run a sweep), so cycles of one config can come from different stacks: that is said
// wherever they are averaged or compared (report flag, lem status, lem compare), never hidden.
// The GPU's power limit and application clocks (nvidia-smi -pl / -ac) are parts of the stack too:
// the hardware fingerprint names the GPU, not how it was set.

/** One part of the stack, as a result records it; null where it is not recorded (older results). */
interface StackField {
  key: StackKey;
  of(r: ExperimentResult): string | null;
}

export type StackKey = "runner" | "image" | "torch" | "transformers" | "vllm" | "power_limit" | "gpu_clocks";

const text = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** One text for the GPUs a cycle used ("300 W", "300 W, 250 W"); null where none was read (older results, CPU runs). */
function perGpu(r: ExperimentResult, of: (g: GpuSettings) => string | null): string | null {
  const settings = Array.isArray(r.environment.gpu_settings) ? r.environment.gpu_settings : [];
  const values = settings.map(of);
  return values.some((v) => v !== null) ? values.map((v) => v ?? "unknown").join(", ") : null;
}

const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const powerLimit = (g: GpuSettings) => (num(g.power_limit_w) ? `${g.power_limit_w} W` : null);
const clocks = (g: GpuSettings) => {
  const c = g.applications_clocks_mhz;
  return c && (num(c.sm) || num(c.memory)) ? `SM ${c.sm ?? "?"} / memory ${c.memory ?? "?"} MHz` : null;
};

/** vLLM's version matters only to vLLM runs; the others may merely have it installed. */
const STACK_FIELDS: readonly StackField[] = [
  { key: "runner", of: (r) => text(r.effective_config.runner_type) },
  { key: "image", of: (r) => text(r.effective_config.image_digest) },
  { key: "torch", of: (r) => text(r.environment.torch) },
  { key: "transformers", of: (r) => text(r.environment.transformers) },
  { key: "vllm", of: (r) => (r.config.backend === "vllm" ? text(r.environment.vllm) : null) },
  { key: "power_limit", of: (r) => perGpu(r, powerLimit) },
  { key: "gpu_clocks", of: (r) => perGpu(r, clocks) },
];

/** One part on which the cycles differ: each value with the cycles that ran on it. */
export interface StackDifference {
  field: StackKey;
  values: { value: string; cycles: number[] }[];
}

/**
 * The parts of the stack on which `results` (the cycles of one config on one hardware) differ.
 * A part some cycles do not record is compared among those that do: unknown is not a difference.
 */
export function stackDifferences(results: readonly ExperimentResult[]): StackDifference[] {
  const out: StackDifference[] = [];
  for (const field of STACK_FIELDS) {
    const byValue = new Map<string, number[]>();
    for (const r of results) {
      const v = field.of(r);
      if (v === null) continue;
      const cycles = byValue.get(v);
      if (cycles) cycles.push(r.cycle); else byValue.set(v, [r.cycle]);
    }
    if (byValue.size > 1) out.push({ field: field.key, values: [...byValue].map(([value, cycles]) => ({ value, cycles: [...cycles].sort((a, b) => a - b) })) });
  }
  return out;
}

/** A digest is long and alike at the start: its first 12 hex digits tell images apart. */
const shown = (d: StackDifference, value: string) => (d.field === "image" ? value.replace(/^(sha256:)?([0-9a-f]{12})[0-9a-f]+$/, "$1$2") : value);
const cyclesText = (cycles: number[]) => `${cycles.length === 1 ? "cycle" : "cycles"} ${cycles.join(", ")}`;

/** "torch 2.3.0 (cycles 1, 2) vs 2.4.0 (cycle 3); runner local (…) vs docker (…)": plain text, escaped by each writer. */
export function describeStackDifferences(diffs: readonly StackDifference[]): string {
  return diffs.map((d) => `${d.field} ${d.values.map((v) => `${shown(d, v.value)} (${cyclesText(v.cycles)})`).join(" vs ")}`).join("; ");
}
