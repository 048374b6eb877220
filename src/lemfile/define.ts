import type { ExperimentEntry, Lemfile, SweepAxes } from "./types.js";

/** Identity with types: gives editors completion and checking for the whole lemfile. */
export function defineLemfile(lemfile: Lemfile): Lemfile {
  return lemfile;
}

/**
 * Cartesian product over dotted paths. Each point is an experiment named
 * `<name>-<value>-<value>...` in the order the axes were written, e.g. sweep("bs",
 * { "pytorch.batch_size": [1, 4], precision: ["fp32"] }) gives bs-1-fp32 and bs-4-fp32.
 * `base` is merged under every point.
 */
export function sweep(name: string, axes: SweepAxes, base: ExperimentEntry = {}): ExperimentEntry[] {
  const entries = Object.entries(axes) as [string, ReadonlyArray<unknown>][];
  let points: { entry: Record<string, unknown>; label: string[] }[] = [{ entry: structuredClone(base) as Record<string, unknown>, label: [] }];
  for (const [path, values] of entries) {
    const next: typeof points = [];
    for (const point of points) {
      for (const value of values) {
        const entry = structuredClone(point.entry);
        setPath(entry, path, value);
        next.push({ entry, label: [...point.label, String(value)] });
      }
    }
    points = next;
  }
  return points.map(({ entry, label }) => ({ ...entry, name: [name, ...label].join("-"), sweep: name }) as ExperimentEntry);
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
