// Sweep dimensions of a report: the config fields whose values differ between the configs shown.
// Nodes carry their sweep's name, not its axes, and configs from several sweeps (or hand-written
// entries) mix in one report, so the axes are read off the configs themselves.

export type DimensionValue = string | number | boolean | null;

export interface Dimension {
  /** Dotted config path, e.g. "pytorch.batch_size". */
  key: string;
  /** Its distinct values, numbers ascending ("inf" after them), others in first-seen order. */
  values: DimensionValue[];
}

/** Leaf fields of a config as dotted paths; arrays and objects below them count as one JSON value. */
export function flattenConfig(config: object, prefix = ""): Map<string, DimensionValue> {
  const out = new Map<string, DimensionValue>();
  for (const [k, v] of Object.entries(config)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) for (const [kk, vv] of flattenConfig(v, key)) out.set(kk, vv);
    else if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") out.set(key, v);
    else if (v !== undefined) out.set(key, JSON.stringify(v));
  }
  return out;
}

/** Numbers ascending, then a request rate of "inf" (every request at once): the rate's order on every axis. */
export const byRequestRate = (a: number | "inf", b: number | "inf") => (a === "inf" ? (b === "inf" ? 0 : 1) : b === "inf" ? -1 : a - b);

/** Fields set by lem, not chosen by the user: never a sweep axis of their own. */
const DERIVED = new Set(["dataset_sha256"]);

/** The fields that vary across `configs` (a field missing from some config varies too). */
export function sweepDimensions(configs: readonly object[]): Dimension[] {
  const flat = configs.map((c) => flattenConfig(c));
  const keys = [...new Set(flat.flatMap((f) => [...f.keys()]))].filter((k) => !DERIVED.has(k));
  const dims: Dimension[] = [];
  for (const key of keys) {
    const values: DimensionValue[] = [];
    for (const f of flat) {
      const v = f.has(key) ? f.get(key)! : null;
      if (!values.includes(v)) values.push(v);
    }
    if (values.length < 2) continue;
    if (values.every((v): v is number | "inf" => typeof v === "number" || v === "inf")) (values as (number | "inf")[]).sort(byRequestRate);
    dims.push({ key, values });
  }
  return dims;
}
