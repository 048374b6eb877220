// Ctrl-C at any moment exits 130 and loses nothing; a SIGKILLed lem leaves nothing the next build
// cannot clean. Trials are seeded: set LEM_FAULT_SEED to replay a failing one.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fakeProject, okExperiments, leftovers, partialResults, fakeHarnesses, exchangeDirsOf, until, STACK, seeded } from "./helpers.js";

const TRIALS = 20;
let beforeStart = 0;
const seed = Number(process.env.LEM_FAULT_SEED ?? Date.now() % 1_000_000);
console.log(`faults/interrupt: seed ${seed} (LEM_FAULT_SEED=${seed} replays it)`);

/** One trial: SIGINT `delayMs` after spawning `lem build` over 3 slow-ish nodes. */
async function interruptTrial(delayMs: number, trial: number) {
  const project = fakeProject(okExperiments(3), { LEM_FAKE_SLEEP: "0.3" });
  const run = project.run("build");
  let exited = false;
  void run.then(() => (exited = true));
  await sleep(delayMs);
  const interrupted = !exited;
  if (interrupted) run.child.kill("SIGINT");
  const r = await run;
  const where = `trial ${trial} (seed ${seed}, SIGINT after ${delayMs} ms):\n${r.stdout}\n${r.stderr}`;
  // lem may have finished before the signal arrived; then it is a plain success. A signal in the
  // first milliseconds, before lem's first line of JavaScript runs, ends it by the kernel's default
  // (the shell reports that as 130 too): allowed only when lem printed nothing.
  const killedBeforeStart = run.child.signalCode === "SIGINT" && r.stdout === "" && r.stderr === "";
  if (killedBeforeStart) beforeStart += 1;
  else if (interrupted && !/3 ran, 0 cached/.test(r.stdout)) assert.is(r.code, 130, where);
  else assert.ok(r.code === 0 || r.code === 130, where);
  assert.not.match(r.stderr, STACK, where);
  assert.equal(leftovers(project), [], `no temp or lock files: ${where}`);
  assert.equal(partialResults(project), [], where);
  assert.equal(exchangeDirsOf(project.tmp, run.child.pid!), [], `no exchange dir left: ${where}`);
  const next = await project.json<{ summary: { ran: number; cached: number; failed: number } }>("build");
  assert.is(next.summary.ran + next.summary.cached, 3, `the next build completes the rest: ${where}`);
  assert.is(next.summary.failed, 0, where);
  assert.is(project.resultFiles().length, 3, where);
}

test(`SIGINT at ${TRIALS} random moments: exit 130, nothing partial, no lock, no orphan, the next build completes`, async () => {
  const random = seeded(seed);
  // 0.15-3 s covers start-up, lemfile load, planning, each node, teardown and the summary.
  const delays = Array.from({ length: TRIALS }, () => 150 + Math.floor(random() * 2850));
  for (let i = 0; i < TRIALS; i += 4) {
    await Promise.all(delays.slice(i, i + 4).map((delay, j) => interruptTrial(delay, i + j)));
  }
  await until(() => fakeHarnesses().length === 0, "every fake harness to end", 5000);
  console.log(`faults/interrupt: ${beforeStart} of ${TRIALS} signals landed before lem started`);
});

test("a SIGKILLed lem: no partial result; the next build breaks its lock, removes its exchange dir and finishes", async () => {
  const project = fakeProject(`{ experiments: [{ name: "a", model: "fake:ok" }, { name: "slow", model: "fake:ok", random_seed: 1 }] }`, { LEM_FAKE_SLEEP: "3" });
  const run = project.run("build");
  let out = "";
  run.child.stdout!.on("data", (d) => (out += d));
  await until(() => out.includes("start   a #1"), "the first node to start");
  const pid = run.child.pid!;
  await until(() => exchangeDirsOf(project.tmp, pid).length === 1, "the node's exchange dir");
  const orphan = exchangeDirsOf(project.tmp, pid)[0];
  run.child.kill("SIGKILL");
  await run;
  assert.equal(partialResults(project), []);
  assert.ok(leftovers(project).some((f) => f.endsWith(".lock")), "the killed build left its lock");
  assert.ok(existsSync(orphan), "and its exchange dir");
  const next = await project.run("build");
  assert.is(next.code, 0, next.stdout + next.stderr);
  assert.match(next.stderr + next.stdout, /removed 1 exchange dir\(s\) left by lem builds that were killed/);
  assert.not.ok(existsSync(orphan), "the orphaned exchange dir is gone");
  assert.equal(leftovers(project), []);
  assert.is(project.resultFiles().length, 2);
  await until(() => fakeHarnesses().length === 0, "the orphaned fake harness to end", 10_000);
});

test.run();
