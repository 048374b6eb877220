import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync, chmodSync, readdirSync, openSync, createWriteStream, type WriteStream } from "node:fs";
import { tmpdir, constants } from "node:os";
import { currentOwner, ownerDead, type OwnerIdentity } from "../store/process-identity.js";
import { join } from "node:path";
import { validators } from "../config/schemas.js";
import { formatSchemaErrors } from "../config/format-errors.js";
import { serverKey } from "../config/server-key.js";
import type { PlannedNode } from "../graph/plan.js";
import type { ExperimentResult } from "../store/result.js";
import type { NodeError } from "./events.js";
import type { RunContext, RunOutcome, RunnerMeta } from "./runner.js";

/** The host↔harness protocol (docker/PROTOCOL.md), shared unchanged by every runner. */
export interface ExchangeDir {
  dir: string;
  /** File names inside dir; a container sees dir at its own mount point. */
  configFile: string;
  resultFile: string;
  errorFile: string;
}

/** What a runner reports about the process it launched. */
export interface LaunchOutcome {
  exitCode: number | null;
  stderrTail: string;
  interrupted: boolean;
  timedOut: boolean;
  /** A runner-specific diagnosis (e.g. a Docker error) that wins over the generic one. */
  error?: NodeError;
  containerId?: string | null;
  /** The signal that ended the harness, when one did (e.g. SIGKILL from outside). */
  signal?: NodeJS.Signals | null;
}

/** Who made an exchange dir; a later build removes dirs whose owner provably died mid-node. */
const OWNER_FILE = ".lem-owner.json";
/** Marks a dir kept on purpose (a failure the user should read): never reaped. */
const KEPT_FILE = ".lem-kept";

/** A fresh private dir (mode 0700) holding `{hash}_config.json`; under `parent` if given. */
export function createExchangeDir(node: PlannedNode, totalCycles: number, parent = tmpdir()): ExchangeDir {
  const dir = mkdtempSync(join(parent, "llem-"));
  chmodSync(dir, 0o700);
  const x = { dir, configFile: `${node.hash}_config.json`, resultFile: `${node.hash}_result.json`, errorFile: `${node.hash}_error.json` };
  const payload = {
    protocol_version: 1, hash: node.hash, cycle: node.cycle, total_cycles: totalCycles,
    names: node.names, hardware: node.hardware, config: node.config,
  };
  // A serving node's server key (config/server-key.ts): the harness reads it, never recomputes it.
  const key = serverKey(node.config);
  if (key !== null) Object.assign(payload, { server_key: key });
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify(currentOwner()), { mode: 0o600 });
  writeFileSync(join(dir, x.configFile), JSON.stringify(payload, null, 2), { mode: 0o600 });
  return x;
}

/**
 * Removes `llem-*` exchange dirs under `parent` that a killed lem left behind: only those that
 * record an owner, whose owner is provably dead (same host; pid gone or reused, or another boot),
 * and that were not kept on purpose. Returns the removed paths.
 */
export function reapOrphanedExchangeDirs(parent = tmpdir()): string[] {
  let names: string[];
  try { names = readdirSync(parent).filter((n) => n.startsWith("llem-")); } catch { return []; }
  const removed: string[] = [];
  for (const name of names) {
    const dir = join(parent, name);
    if (existsSync(join(dir, KEPT_FILE))) continue;
    let owner: Partial<OwnerIdentity>;
    try { owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), "utf8")) as Partial<OwnerIdentity>; } catch { continue; }
    if (!ownerDead(owner)) continue;
    try {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch { /* not ours to remove after all (permissions): leave it */ }
  }
  return removed;
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8"));
}

/**
 * Runs one node through an exchange dir: `launch` starts the harness however the runner does,
 * this reads what it left. Success removes the dir; failure keeps it and names it in the error.
 */
export async function runInExchangeDir(
  node: PlannedNode,
  ctx: RunContext,
  meta: RunnerMeta,
  launch: (x: ExchangeDir) => Promise<LaunchOutcome>,
  parent?: string,
): Promise<RunOutcome> {
  const startedMs = performance.now();
  const x = createExchangeDir(node, ctx.totalCycles, parent);
  const outcome = await launch(x).catch((error: unknown): LaunchOutcome => ({
    exitCode: null, stderrTail: "", interrupted: false, timedOut: false,
    error: { type: "LaunchError", message: error instanceof Error ? error.message : String(error) },
  }));
  const timed: RunnerMeta = { ...meta, wall_s: Math.round(performance.now() - startedMs) / 1000 };
  const pinned = ctx.devices ? { ...timed, gpus: ctx.devices.map((g) => ({ index: g.index, uuid: g.uuid ?? null })) } : timed;
  const run = collect(x, outcome, node, pinned);
  if (!run.ok && !run.interrupted) {
    run.error.exchangeDir = x.dir;
    try { writeFileSync(join(x.dir, KEPT_FILE), `kept: ${run.error.type}: ${run.error.message}\n`); } catch { /* kept either way */ }
    return run;
  }
  try {
    rmSync(x.dir, { recursive: true, force: true });
  } catch (error) {
    // A dir we cannot remove must not turn a good measurement into a failure: say so instead.
    if (run.ok) run.warning = `could not remove exchange dir ${x.dir}: ${(error as Error).message}`;
  }
  return run;
}

function collect(x: ExchangeDir, outcome: LaunchOutcome, node: PlannedNode, meta: RunnerMeta): RunOutcome {
  const resultPath = join(x.dir, x.resultFile);
  const errorPath = join(x.dir, x.errorFile);
  if (outcome.interrupted) return { ok: false, interrupted: true, error: { type: "Interrupted", message: "stopped by Ctrl-C" } };
  // A timeout wins over what the stopped harness wrote on its way out (an Interrupted payload).
  if (outcome.timedOut) {
    return { ok: false, error: outcome.error ?? { type: "Timeout", message: "the experiment ran past its timeout and was stopped", fix: "raise timeout_seconds in .lem-config.yaml or lower n", stderrTail: outcome.stderrTail } };
  }
  if (outcome.exitCode === 0 && existsSync(resultPath)) return accept(resultPath, outcome, node, meta);
  if (existsSync(errorPath)) {
    try {
      const payload = readJson(errorPath) as { type?: string; message?: string };
      return { ok: false, error: { type: payload.type ?? "HarnessError", message: payload.message ?? "(no message)", fix: "the harness traceback is in the kept exchange dir", stderrTail: outcome.stderrTail } };
    } catch { /* unreadable payload: fall through to the generic error */ }
  }
  if (outcome.error) return { ok: false, error: { ...outcome.error, stderrTail: outcome.error.stderrTail ?? outcome.stderrTail } };
  return {
    ok: false,
    error: {
      type: "HarnessError",
      message: outcome.signal
        ? `the harness was killed by ${outcome.signal} (signal ${constants.signals[outcome.signal] ?? "?"}) and wrote no result`
        : outcome.exitCode === 0 ? "the harness exited 0 but wrote no result file" : `the harness exited with code ${outcome.exitCode} and wrote no result`,
      fix: outcome.signal
        ? "something outside lem stopped it (the kernel's OOM killer: see dmesg; a job scheduler; a kill): free memory or find who sent it, then run lem build again"
        : "read the stderr below and the harness log in the kept exchange dir",
      stderrTail: outcome.stderrTail,
    },
  };
}

function accept(path: string, outcome: LaunchOutcome, node: PlannedNode, meta: RunnerMeta): RunOutcome {
  let result: ExperimentResult;
  try {
    result = readJson(path) as ExperimentResult;
  } catch (error) {
    return { ok: false, error: { type: "InvalidResult", message: `result file is not JSON: ${(error as Error).message}` } };
  }
  result.effective_config = { ...result.effective_config, ...meta };
  result.environment = { ...result.environment, container_id: outcome.containerId ?? null };
  if (!validators.result(result) || result.hash !== node.hash || result.cycle !== node.cycle) {
    const lines = validators.result.errors ? formatSchemaErrors(validators.result.errors, result) : ["hash or cycle does not match the node"];
    return { ok: false, error: { type: "InvalidResult", message: `the harness result does not match schemas/result.schema.json: ${lines.slice(0, 5).join("; ")}`, fix: "the harness and lem versions may differ: rebuild the image" } };
  }
  return { ok: true, result };
}

/** Keeps the last `max` lines of a stream of chunks. */
/**
 * The harness's output, kept in the exchange dir (for a failed node). Opened before the harness
 * starts: an asynchronous open could land after a quick, interrupted node's dir is gone, and its
 * ENOENT would be an unhandled error that ends lem.
 */
export function openHarnessLog(x: ExchangeDir): WriteStream {
  return createWriteStream("", { fd: openSync(join(x.dir, "harness.log"), "a") });
}

export class TailBuffer {
  private text = "";
  constructor(private readonly max = 20) {}
  push(chunk: string | Buffer): void {
    this.text += chunk.toString();
    if (this.text.length > 64_000) this.text = this.text.slice(-32_000);
  }
  toString(): string {
    return this.text.trimEnd().split("\n").slice(-this.max).join("\n");
  }
}
