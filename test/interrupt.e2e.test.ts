// Interrupting lem never leaves a half-written result, a live harness or a lock that blocks the next build.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { TempProject } from "./helpers/project.js";
import { requirePython } from "./helpers/python.js";

const python = requirePython("interrupt.e2e.test.ts");
// The middle node is long (it is the one interrupted); the others are short.
const body = `{
  defaults: { model: "synthetic:tiny", n: 8, max_input_tokens: 16, max_output_tokens: 64, precision: "fp32",
    warmup: { n_warmup: 1 }, baseline: { enabled: false }, pytorch: { num_threads: 1 } },
  experiments: [{ name: "bs-1", n: 8 }, { name: "bs-2", n: 800 }, { name: "bs-3", n: 8, pytorch: { batch_size: 2 } }],
}`;

/** Starts `lem build` and resolves once the given node has started. */
async function buildUntilStarted(project: TempProject, label: string) {
  const run = project.run("build");
  let seen = "";
  await new Promise<void>((resolve, reject) => {
    run.child.stdout!.on("data", (d) => { seen += d; if (seen.includes(`start   ${label}`)) resolve(); });
    run.child.on("close", () => reject(new Error(`lem ended before ${label} started:\n${seen}`)));
  });
  return { run, child: run.child }; // not `run` itself: awaiting a returned promise would wait for lem to end
}

const harnesses = () =>
  spawnSync("pgrep", ["-f", "-a", "lem_harness"], { encoding: "utf8" }).stdout.split("\n").filter((l) => l.includes("lem_harness") && !l.includes("pgrep")).length;

/** Nothing in results/ but complete files: no temp files, no locks. */
function storeFiles(project: TempProject) {
  return readdirSync(join(project.dir, "results"), { recursive: true }).map(String).filter((f) => !f.endsWith("config.json") && /\.(json|tmp|lock)$/.test(f));
}

if (python) {
  test("Ctrl-C stops the running node, stores nothing for it, exits 130; the next build finishes the rest", async () => {
    const project = new TempProject(body, { LEM_PYTHON: python, LEM_RUNNER_PYTORCH: "local" });
    const { run, child } = await buildUntilStarted(project, "bs-2 #1");
    await sleep(1500);
    child.kill("SIGINT");
    const r = await run;
    assert.is(r.code, 130, r.stdout + r.stderr);
    assert.match(r.stdout, /interrupted/);
    assert.equal(project.resultFiles().length, 1, "only the node that finished is stored");
    assert.ok(storeFiles(project).every((f) => /cycle-1\.json$/.test(f)), `no partial or lock files: ${storeFiles(project)}`);
    assert.is(harnesses(), 0, "the harness was stopped");
    const next = await project.json<{ summary: { ran: number; cached: number } }>("build");
    assert.equal([next.summary.ran, next.summary.cached], [2, 1]);
  });

  test("a SIGKILLed lem leaves no partial result; its harness exits; the next build breaks the stale lock", async () => {
    const project = new TempProject(body, { LEM_PYTHON: python, LEM_RUNNER_PYTORCH: "local" });
    const { run, child } = await buildUntilStarted(project, "bs-2 #1");
    await sleep(1500);
    child.kill("SIGKILL");
    await run;
    assert.equal(project.resultFiles().length, 1);
    assert.ok(storeFiles(project).some((f) => f.endsWith(".lock")), "the killed build's lock is left behind");
    for (let i = 0; i < 30 && harnesses() > 0; i++) await sleep(200);
    assert.is(harnesses(), 0, "the orphaned harness noticed its parent died and exited");
    const next = await project.json<{ summary: { ran: number; cached: number } }>("build");
    assert.equal([next.summary.ran, next.summary.cached], [2, 1]);
    assert.ok(storeFiles(project).every((f) => /cycle-1\.json$/.test(f)));
  });
}

test.run();
