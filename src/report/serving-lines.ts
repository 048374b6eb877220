import { serverKey, serverParts } from "../config/server-key.js";
import type { ExperimentConfig } from "../lemfile/types.js";
import { byRequestRate, flattenConfig, sweepDimensions, type DimensionValue } from "./dimensions.js";

// Which line and which x each serving config has in the report's request-rate charts. A line is an
// engine config: the configs of one server key (src/config/server-key.ts), whatever their rate.
// Labels are plain text from the results; whoever writes them escapes them for where they land.

/** One serving config's place in the request-rate charts. */
export interface ServingPoint {
  /** The line's label: the server fields that tell its key from the others', or the key itself. */
  line: string;
  key: string;
  /** The request rate as the axis shows it: "0.5", "4", "inf". */
  rate: string;
  /** Its position on the rate axis (the index into `rates`): the order the line is drawn in. */
  rateOrder: number;
}

export interface ServingLines {
  /** Per config, in the order given; null for an offline config. */
  points: (ServingPoint | null)[];
  /** Every rate shown, numbers ascending, "inf" last. */
  rates: string[];
}

/** serverParts groups fields by what the server does with them; a label names them as a config writes them. */
const CONFIG_PATH: readonly [string, string][] = [["serving_engine.", "serving.engine."], ["vllm_engine.", "vllm.engine."], ["batch_sampling.", "decoder."]];
const configPath = (part: string) => CONFIG_PATH.reduce((p, [from, to]) => (p.startsWith(from) ? to + p.slice(from.length) : p), part);

const RATE_KEY = "serving.request_rate";
const shown = (v: DimensionValue) => (typeof v === "string" ? v : JSON.stringify(v));

/** Each config's line and rate (null where offline), and the rates in axis order. */
export function servingLines(configs: readonly { config: ExperimentConfig }[]): ServingLines {
  const keys = configs.map((c) => (c.config.serving ? serverKey(c.config) : null));
  const partsOf = new Map<string, Map<string, DimensionValue>>();
  configs.forEach((c, i) => {
    const key = keys[i];
    if (key !== null && !partsOf.has(key)) partsOf.set(key, flattenConfig(serverParts(c.config) ?? {}));
  });
  // A server field labels a line where another key that has it too holds another value: two
  // backends differ by `backend`, not by every engine flag that only one of them has.
  const fields = [...new Set([...partsOf.values()].flatMap((p) => [...p.keys()]))].filter((f) => f !== "server_key_version");
  const telling = fields.filter((f) => new Set([...partsOf.values()].filter((p) => p.has(f)).map((p) => shown(p.get(f)!))).size > 1);
  // Configs of one key at one rate that differ otherwise (max_concurrency, num_requests) would
  // zigzag on one line: the fields that vary within a key, the rate aside, split it.
  const loadOf = new Map([...partsOf.keys()].map((key) => {
    const own = configs.filter((_, i) => keys[i] === key).map((c) => c.config);
    return [key, sweepDimensions(own).map((d) => d.key).filter((k) => k !== RATE_KEY)];
  }));
  const labels = configs.map((c, i) => {
    const key = keys[i];
    if (key === null) return null;
    const parts = partsOf.get(key)!;
    const flat = flattenConfig(c.config);
    const text = [
      ...telling.filter((f) => parts.has(f)).map((f) => `${configPath(f)}=${shown(parts.get(f)!)}`),
      ...loadOf.get(key)!.map((k) => `${k}=${shown(flat.get(k) ?? null)}`),
    ].join(", ");
    return { key, text: text || key, load: loadOf.get(key)!.map((k) => shown(flat.get(k) ?? null)).join("\u0000") };
  });
  // Two lines with one label (fields that flatten alike, e.g. absent and null) keep their key beside it.
  const linesOf = new Map<string, Set<string>>();
  for (const l of labels) if (l) linesOf.set(l.text, (linesOf.get(l.text) ?? new Set()).add(`${l.key}\u0000${l.load}`));
  const rateOf = (c: { config: ExperimentConfig }) => c.config.serving!.request_rate;
  const rates = [...new Set(configs.filter((_, i) => keys[i] !== null).map(rateOf))].sort(byRequestRate).map(String);
  return {
    rates,
    points: configs.map((c, i) => {
      const l = labels[i];
      if (!l) return null;
      const rate = String(rateOf(c));
      const line = linesOf.get(l.text)!.size > 1 ? `${l.text} (server ${l.key})` : l.text;
      return { line, key: l.key, rate, rateOrder: rates.indexOf(rate) };
    }),
  };
}
