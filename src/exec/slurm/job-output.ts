import { readFileSync, renameSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import type { ExchangeDir } from "../exchange-dir.js";

/** The last lines of a job's (or a harness's) output file; "" when there is none. */
export function tail(path: string, lines = 20): string {
  try { return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n"); } catch { return ""; }
}

/** The harness's Interrupted payload after an outside scancel would hide Slurm's reason: set it aside, kept. */
export function hideHarnessError(x: ExchangeDir): Record<string, never> {
  try { renameSync(join(x.dir, x.errorFile), join(x.dir, "harness-error.json")); } catch { /* the harness wrote none */ }
  return {};
}

/** A signal by number (Slurm's ExitCode `0:9`) or by name (the job worker's `SIGKILL`); null if unknown. */
export function signalName(signal: number | string | null | undefined): NodeJS.Signals | null {
  if (typeof signal === "string") return signal in constants.signals ? (signal as NodeJS.Signals) : null;
  if (typeof signal !== "number") return null;
  const found = Object.entries(constants.signals).find(([, n]) => n === signal);
  return found ? (found[0] as NodeJS.Signals) : null;
}
