import { inputError } from "../errors.js";
import type { ExperimentResult, RequestRow } from "../store/result.js";
import type { CycleValue } from "./metrics.js";

// Service-level objectives for goodput. They change no measurement, so they are not in the config
// (nor its hash): lem report and lem compare apply them to the requests each serving result keeps.

export const SLO_FIELDS = ["ttft_ms", "tpot_ms", "e2e_ms"] as const;
export type SloField = (typeof SLO_FIELDS)[number];
export type Slo = Partial<Record<SloField, number>>;

/** A config meets the SLOs when at least this share of its requests (every cycle) meets every one: their p90s are within. */
export const SLO_ATTAINMENT = 0.9;

/** "ttft_ms=500,tpot_ms=50" → { ttft_ms: 500, tpot_ms: 50 }; a bad entry is an input error naming the flag. */
export function parseSlo(text: string, flag = "--slo"): Slo {
  const slo: Slo = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [name, value, extra] = part.split("=");
    const ms = Number(value);
    if (!(SLO_FIELDS as readonly string[]).includes(name) || extra !== undefined || value === undefined || value.trim() === "" || !Number.isFinite(ms) || ms <= 0) {
      throw inputError(`${flag}: "${part}" is not an SLO`, `use ${SLO_FIELDS.map((f) => `${f}=<ms>`).join(",")} (any of them, each a positive number of milliseconds)`);
    }
    slo[name as SloField] = ms;
  }
  if (Object.keys(slo).length === 0) throw inputError(`${flag}: no SLO given`, `use e.g. ${flag} ttft_ms=500,tpot_ms=50`);
  return slo;
}

export const describeSlo = (slo: Slo): string => SLO_FIELDS.filter((f) => slo[f] !== undefined).map((f) => `${f} ≤ ${slo[f]}`).join(", ");

const COLUMN: Record<SloField, 0 | 1 | 2> = { ttft_ms: 0, tpot_ms: 1, e2e_ms: 2 };

/**
 * Whether one request row meets every SLO. A failed request never does; a figure a request lacks
 * (TPOT of a one-token answer) does not count against it.
 */
const meets = (row: RequestRow, slo: Slo) =>
  row[4] && SLO_FIELDS.every((f) => slo[f] === undefined || row[COLUMN[f]] === null || (row[COLUMN[f]] as number) <= slo[f]!);

/** Goodput of one serving cycle: requests meeting every SLO ÷ the load's duration. */
export function goodputOf(r: ExperimentResult, slo: Slo): CycleValue {
  if (!r.serving) return { value: null, reason: "offline run: no server under load" };
  const s = r.serving;
  if (!(s.duration_s > 0)) return { value: null, reason: "the load has no duration" };
  return { value: s.requests.filter((row) => meets(row, slo)).length / s.duration_s, reason: null };
}

/** The share of a config's requests, over its cycles, that meets every SLO; null where none was served. */
export function sloAttainment(results: readonly ExperimentResult[], slo: Slo): number | null {
  const rows = results.flatMap((r) => r.serving?.requests ?? []);
  return rows.length ? rows.filter((row) => meets(row, slo)).length / rows.length : null;
}
