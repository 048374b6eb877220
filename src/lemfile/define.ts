import { createHash } from "node:crypto";
import { inputError } from "../errors.js";
import { nonJsonValues } from "./json-values.js";
import type { ExperimentEntry, Lemfile, SweepAxes, SweepOptions, SweepValue } from "./types.js";

/** Identity with types: gives editors completion and checking for the whole lemfile. */
export function defineLemfile(lemfile: Lemfile): Lemfile {
  return lemfile;
}

/** What a hand-written experiment or sweep name may hold (also in schemas/lemfile.schema.json). */
export const NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N}._+=-]*$/u;

/** More points than this in one sweep is a mistake (and would exhaust memory before lem could say so). */
export const MAX_SWEEP_POINTS = 1_000_000;

/**
 * Cartesian product over dotted paths. Each point is an experiment named
 * `<name>-<value>-<value>...` in the order the axes were written, e.g. sweep("bs",
 * { "pytorch.batch_size": [1, 4], precision: ["fp32"] }) gives bs-1-fp32 and bs-4-fp32.
 * A value's label keeps letters, digits and `. _ + = -`; anything else becomes `_`, so
 * "meta-llama/Llama-3.2-1B" gives `<name>-meta-llama_Llama-3.2-1B`. `base` is merged under every
 * point. A point invalid only through a combination of values that are valid elsewhere is an
 * error unless `options.skip_invalid` (or `lem build --skip-invalid`) asks to skip it.
 */
export function sweep(name: string, axes: SweepAxes, base: ExperimentEntry = {}, options: SweepOptions = {}): ExperimentEntry[] {
  const where = `sweep(${JSON.stringify(name)})`;
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw inputError(`${where}: the name must start with a letter or digit and hold only letters, digits and . _ + = -`, "rename the sweep, e.g. sweep(\"bs\", ...)");
  }
  if (typeof axes !== "object" || axes === null || Array.isArray(axes)) {
    throw inputError(`${where}: the axes must be an object of dotted path → list of values`, `e.g. sweep("${name}", { "pytorch.batch_size": [1, 4] })`);
  }
  const entries = Object.entries(axes) as [string, ReadonlyArray<SweepValue>][];
  let size = 1;
  for (const [path, values] of entries) {
    if (!Array.isArray(values)) {
      throw inputError(`${where}: axis "${path}" must be a list of values, got ${JSON.stringify(values) ?? typeof values}`, `write "${path}": [${JSON.stringify(values) ?? "..."}]`);
    }
    if (values.length === 0) {
      throw inputError(`${where}: axis "${path}" has no values, so the sweep would have no points`, `give "${path}" at least one value, or remove the axis`);
    }
    const bad = nonJsonValues(values);
    if (bad.length) throw inputError(`${where}: axis "${path}", value ${bad[0].path} is ${bad[0].what}`, "sweep values must be plain data (finite numbers, strings, booleans, null)");
    size *= values.length;
  }
  if (size > MAX_SWEEP_POINTS) {
    throw inputError(`${where}: ${entries.map(([p, v]) => `${p} (${v.length})`).join(" × ")} = ${size.toExponential(1)} points, more than lem plans (${MAX_SWEEP_POINTS.toLocaleString("en")})`, "sweep fewer values, or split the study into several lemfiles");
  }
  const badBase = nonJsonValues(base);
  if (badBase.length) throw inputError(`${where}: base${badBase[0].path ? `.${badBase[0].path}` : ""} is ${badBase[0].what}`, "the base must be plain data");

  const labels = entries.map(([, values]) => valueLabels(values));
  const points: ExperimentEntry[] = [];
  // Odometer over the axes, last axis fastest: the order the axes and values were written.
  const at = entries.map(() => 0);
  for (let n = 0; n < size; n++) {
    const entry = structuredClone(base) as Record<string, unknown>;
    const point: Record<string, SweepValue> = {};
    let label = name;
    entries.forEach(([path, values], axis) => {
      setPath(entry, path, values[at[axis]]);
      point[path] = values[at[axis]];
      label += `-${labels[axis][at[axis]]}`;
    });
    entry.name = label;
    entry.sweep = name;
    entry.sweep_point = point;
    if (options.skip_invalid === true) entry.skip_invalid = true;
    points.push(entry as ExperimentEntry);
    for (let axis = entries.length - 1; axis >= 0; axis--) {
      if (++at[axis] < entries[axis][1].length) break;
      at[axis] = 0;
    }
  }
  return points;
}

/**
 * Readable name parts for one axis's values. Two different values that read the same after
 * sanitising ("a/b" and "a:b") get a short digest of the value each, so names stay unique.
 */
function valueLabels(values: ReadonlyArray<SweepValue>): string[] {
  const json = values.map((v) => JSON.stringify(v));
  const labels = values.map(sanitizeLabel);
  const firstValue = new Map<string, string>();
  const clash = new Set<string>();
  labels.forEach((label, i) => {
    const seen = firstValue.get(label);
    if (seen === undefined) firstValue.set(label, json[i]);
    else if (seen !== json[i]) clash.add(label);
  });
  return labels.map((label, i) =>
    clash.has(label) ? `${label}_${createHash("sha256").update(json[i]).digest("hex").slice(0, 6)}` : label);
}

/** `synthetic:tiny` → `synthetic_tiny`, `data/a.jsonl` → `data_a.jsonl`, 0.5 → `0.5`. */
export function sanitizeLabel(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  const label = text.replace(/[^\p{L}\p{N}._+=-]+/gu, "_").replace(/^_+|_+$/g, "");
  return label === "" ? "_" : label;
}

export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let cursor = target;
  for (const key of keys.slice(0, -1)) {
    const child = cursor[key];
    if (typeof child !== "object" || child === null || Array.isArray(child)) cursor[key] = {};
    cursor = cursor[key] as Record<string, unknown>;
  }
  cursor[keys[keys.length - 1]] = value;
}
