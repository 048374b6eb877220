import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { currentOwner, ownerDead, type OwnerIdentity } from "../store/process-identity.js";

// Servers shared by the local runner's serving nodes (issue 20 §2). Loading a model costs seconds to
// minutes, so the serving nodes of one server key (config/server-key.ts) share one server: the
// harness keeps it in a registry folder (docker/harness/lem_harness/serving/registry.py), one per
// lane of the scheduler (server-lanes.ts), that the local runner hands to the harness as
// LEM_SERVER_DIR and empties at the build's end whatever happened. Containers and Slurm jobs keep
// their registry inside (docker/, slurm/).

/** Prefix of a registry folder under os.tmpdir() (the harness's watchdog removes only such a folder). */
export const SERVER_DIR_PREFIX = "lem-servers-";
/** How long a server gets to exit on SIGTERM before its process group is killed. */
const GRACE_MS = 15_000;
const POLL_MS = 100;

/** An entry the harness writes: server-<key>.json (the fields lem uses). */
interface Entry { key?: string; pid?: number; pgid?: number; watchdog_pid?: number }

export interface ServerRegistry {
  /** The folder: LEM_SERVER_DIR for the local runner's harness. */
  readonly dir: string;
  /** Stops every server in it (SIGTERM to each process group, SIGKILL after the grace period or at once once `kill` aborts), then removes the folder. */
  teardown(kill?: AbortSignal): Promise<void>;
}

/** Who made a registry folder (not *.json: the watchdog counts those as entries). */
const OWNER_FILE = "owner";

/** A fresh private registry folder, lem-servers-<pid>-<random>, under `parent` (os.tmpdir()). */
export function createServerRegistry(parent = tmpdir()): ServerRegistry {
  const dir = mkdtempSync(join(parent, `${SERVER_DIR_PREFIX}${process.pid}-`));
  chmodSync(dir, 0o700);
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify(currentOwner()), { mode: 0o600 });
  return { dir, teardown: async (kill) => { await stopServers(dir, { kill }); } };
}

/**
 * Registry folders under `parent` whose lem provably died (the exchange dirs' rule): their servers
 * are stopped and the folders removed. A server's watchdog does this itself; this catches what a
 * killed watchdog (or a rebooted machine's stale folder) left. Returns the folders removed.
 */
export async function reapOrphanedRegistries(parent = tmpdir()): Promise<string[]> {
  let names: string[];
  try { names = readdirSync(parent).filter((n) => n.startsWith(SERVER_DIR_PREFIX)); } catch { return []; }
  const removed: string[] = [];
  for (const name of names) {
    const dir = join(parent, name);
    let owner: Partial<OwnerIdentity>;
    try { owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), "utf8")) as Partial<OwnerIdentity>; } catch { continue; }
    if (!ownerDead(owner)) continue;
    await stopServers(dir, { graceMs: 5_000 });
    removed.push(dir);
  }
  return removed;
}

/** One registry folder per lane, made when the lane's first serving node runs. */
export class ServerRegistries {
  private readonly byLane = new Map<number, ServerRegistry>();
  constructor(private readonly parent = tmpdir()) {}

  dirFor(lane: number): string {
    let registry = this.byLane.get(lane);
    if (!registry) this.byLane.set(lane, (registry = createServerRegistry(this.parent)));
    return registry.dir;
  }

  /** Stops every lane's servers and removes the folders. */
  async teardown(kill?: AbortSignal): Promise<void> {
    const registries = [...this.byLane.values()];
    this.byLane.clear();
    await Promise.all(registries.map((r) => r.teardown(kill)));
  }
}

/** The entries in a registry folder (unreadable ones skipped). */
export function readEntries(dir: string): Entry[] {
  let names: string[];
  try { names = readdirSync(dir).filter((n) => n.startsWith("server-") && n.endsWith(".json")); } catch { return []; }
  const entries: Entry[] = [];
  for (const name of names) {
    try { entries.push(JSON.parse(readFileSync(join(dir, name), "utf8")) as Entry); } catch { /* half-written or gone: its watchdog stops it */ }
  }
  return entries;
}

const validPid = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n > 1;

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try { process.kill(-pgid, signal); } catch { /* gone, or not ours */ }
}

/** Some live process is in the group: zombies (which still answer kill 0) do not count. */
export function groupAlive(pgid: number): boolean {
  try { process.kill(-pgid, 0); } catch (error) { return (error as NodeJS.ErrnoException).code === "EPERM"; }
  let pids: string[];
  try { pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n)); } catch { return true; }
  for (const pid of pids) {
    let stat: string;
    try { stat = readFileSync(`/proc/${pid}/stat`, "utf8"); } catch { continue; }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (pgrp === String(pgid) && state !== "Z" && state !== "X") return true;
  }
  return false;
}

async function waitGone(pgids: number[], ms: number, kill?: AbortSignal): Promise<number[]> {
  const deadline = Date.now() + ms;
  let left = pgids.filter(groupAlive);
  while (left.length > 0 && Date.now() < deadline && !kill?.aborted) {
    await sleep(POLL_MS);
    left = left.filter(groupAlive);
  }
  return left;
}

/**
 * Stops every server a registry folder names and their watchdogs: SIGTERM to each process group,
 * then SIGKILL to what is left after graceMs (or at once when `kill` aborts), waits until they are
 * gone, and removes the folder. Returns the process groups still alive after SIGKILL (none, normally).
 */
export async function stopServers(dir: string, options: { graceMs?: number; kill?: AbortSignal } = {}): Promise<number[]> {
  const entries = readEntries(dir);
  const groups = entries.map((e) => e.pgid).filter(validPid);
  const watchdogs = entries.map((e) => e.watchdog_pid).filter(validPid);
  for (const pgid of groups) signalGroup(pgid, "SIGTERM");
  // A watchdog would stop its server too; it is stopped so it cannot outlive the folder.
  for (const pid of watchdogs) signalGroup(pid, "SIGTERM");
  let left = await waitGone(groups, options.graceMs ?? GRACE_MS, options.kill);
  for (const pgid of left) signalGroup(pgid, "SIGKILL");
  left = await waitGone(left, 5_000);
  rmSync(dir, { recursive: true, force: true });
  return left;
}
