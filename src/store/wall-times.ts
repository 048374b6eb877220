import type { ResultStore, StoreSnapshot } from "./store.js";
import type { Measured } from "../graph/cost-model.js";
import type { ExperimentConfig } from "../lemfile/types.js";

/**
 * The mean stored wall time (effective_config.wall_s) of each config, counting only results from
 * the hardware it would run on now: another machine's seconds say little about this one's.
 * Only configs with a stored result are read.
 */
export function storedWallTimes(
  store: ResultStore,
  snapshot: StoreSnapshot,
  configs: ReadonlyMap<string, { config: ExperimentConfig; hardware: string }>,
): Map<string, Measured> {
  const measured = new Map<string, Measured>();
  for (const [hash, { config, hardware }] of configs) {
    const entry = snapshot.entries.get(hash);
    if (!entry || ![...entry.done.values()].some((hw) => hw.includes(hardware))) continue;
    const walls = store.results(hash)
      .filter((r) => r.hardware === hardware && typeof r.effective_config.wall_s === "number")
      .map((r) => r.effective_config.wall_s as number);
    if (walls.length > 0) measured.set(hash, { config, seconds: walls.reduce((a, b) => a + b, 0) / walls.length });
  }
  return measured;
}
