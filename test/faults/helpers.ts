// Shared by the fault suites: projects run by the real CLI with a fake Python (fixtures/python3)
// that measures nothing in milliseconds, and checks that a fault left the store clean.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { TempProject } from "../helpers/project.js";
import { tempDir } from "../helpers/temp.js";

export const FAKE_PYTHON = fileURLToPath(new URL("./fixtures/python3", import.meta.url));

/**
 * A project whose pytorch nodes run the fake Python locally. Its exchange dirs go to a private
 * TMPDIR (`project.tmp`), so other lem builds on this machine never reap or count them.
 */
export function fakeProject(body: string, env: NodeJS.ProcessEnv = {}): TempProject & { tmp: string } {
  const tmp = tempDir("lem-faults-tmp-");
  return Object.assign(new TempProject(body, { LEM_PYTHON: FAKE_PYTHON, LEM_RUNNER_PYTORCH: "local", TMPDIR: tmp, ...env }), { tmp });
}

/** `count` experiments that each measure nothing, `cycles` times. */
export function okExperiments(count: number, cycles = 1): string {
  const experiments = Array.from({ length: count }, (_, i) => `{ name: "e${i}", model: "fake:ok", random_seed: ${i} }`);
  return `{ experiments: [${experiments.join(", ")}], execution: { cycles: ${cycles} } }`;
}

/** Files in results/ that a clean store never holds: temp files, locks, write probes. */
export function leftovers(project: TempProject): string[] {
  const root = join(project.dir, "results");
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true }).map(String).filter((f) => /\.tmp$|\.lock$|\.lem-write-check/.test(f));
}

/** Stored result files that are not whole JSON (a half-written file would be one). */
export function partialResults(project: TempProject): string[] {
  return project.resultFiles().filter((f) => {
    try { JSON.parse(readFileSync(join(project.dir, "results", f), "utf8")); return false; } catch { return true; }
  });
}

/** Fake harness processes still alive (started from this suite's fixture). */
export function fakeHarnesses(): string[] {
  return spawnSync("pgrep", ["-f", "-a", "faults/fixtures/python3"], { encoding: "utf8" }).stdout
    .split("\n").filter((l) => l.includes("faults/fixtures/python3") && !l.includes("pgrep"));
}

/** Exchange dirs under `parent` (a project's private TMPDIR) whose recorded owner is `pid`. */
export function exchangeDirsOf(parent: string, pid: number): string[] {
  return readdirSync(parent).filter((n) => n.startsWith("llem-")).map((n) => join(parent, n)).filter((dir) => {
    try { return JSON.parse(readFileSync(join(dir, ".lem-owner.json"), "utf8")).pid === pid; } catch { return false; }
  });
}

export async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

/** A stack trace line: what an expected failure must never print. */
export const STACK = /^\s+at .+[:(]\d+/m;

/** lem's own seeded PRNG (mulberry32), so a failing random trial can be replayed from its seed. */
export { seededRandom as seeded } from "../../src/graph/nodes.js";
