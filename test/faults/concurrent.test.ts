// Two builds of one project at once measure each node exactly once; a lock is honoured only
// while its owner really lives, and a build never ends 0 with a selected node unmeasured.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fakeProject, okExperiments, leftovers, until } from "./helpers.js";
import { tempDir } from "../helpers/temp.js";
import { currentOwner, processStartTime } from "../../src/store/process-identity.js";

const measured = (log: string) => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean) : []);

test("two concurrent builds over 8 nodes measure each node exactly once (3 trials)", async () => {
  for (let trial = 0; trial < 3; trial++) {
    const log = join(tempDir(), "measured.log");
    const project = fakeProject(okExperiments(4, 2), { LEM_FAKE_SLEEP: "0.1", LEM_FAKE_LOG: log });
    const [a, b] = await Promise.all([project.run("build"), project.run("build")]);
    assert.is(a.code, 0, a.stdout + a.stderr);
    assert.is(b.code, 0, b.stdout + b.stderr);
    const lines = measured(log);
    assert.is(new Set(lines).size, lines.length, `a node was measured twice (trial ${trial}):\n${lines.join("\n")}`);
    assert.is(lines.length, 8, `every node measured once (trial ${trial})`);
    assert.is(project.resultFiles().length, 8);
    assert.equal(leftovers(project), []);
  }
});

/** The node's folder and lock path in a project's store. */
async function lockPathOf(project: ReturnType<typeof fakeProject>) {
  const status = await project.json("status");
  const hash = status.nodes[0].hash;
  mkdirSync(join(project.dir, "results", hash), { recursive: true });
  return join(project.dir, "results", hash, "cycle-1.lock");
}

test("a lock whose pid now belongs to another process (pid reused) is stale: the node runs", async () => {
  const project = fakeProject(okExperiments(1));
  const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
  try {
    const pid = sleeper.pid!;
    await until(() => processStartTime(pid) !== undefined, "sleep to start");
    const lock = await lockPathOf(project);
    // The pid is alive, but it started at another time than the lock's owner did.
    writeFileSync(lock, JSON.stringify({ ...currentOwner(), pid, proc_start: String(Number(processStartTime(pid)) - 100), started_at: "" }));
    const r = await project.run("build");
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 ran, 0 cached/);
    assert.not.ok(existsSync(lock), "the stale lock was broken and the new one released");
  } finally {
    sleeper.kill();
  }
});

test("a lock from another boot is stale even when its pid is alive", async () => {
  const project = fakeProject(okExperiments(1));
  const lock = await lockPathOf(project);
  writeFileSync(lock, JSON.stringify({ pid: 1, host: hostname(), boot_id: "00000000-0000-0000-0000-000000000000", proc_start: "1", started_at: "" }));
  const r = await project.run("build");
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /1 ran, 0 cached/);
});

test("a node locked by a live build is waited for, then measured: the build never exits 0 with it unmeasured", async () => {
  const project = fakeProject(okExperiments(2));
  const lock = await lockPathOf(project);
  // This test process plays the other build: alive, with its true start time.
  writeFileSync(lock, JSON.stringify({ ...currentOwner(), started_at: new Date().toISOString() }));
  const run = project.run("build");
  let out = "";
  run.child.stdout!.on("data", (d) => (out += d));
  run.child.stderr!.on("data", (d) => (out += d));
  await until(() => /being measured by another lem build \(pid \d+ on .*\); waiting for it/.test(out), "the build to wait");
  await sleep(500);
  assert.is(run.child.exitCode, null, "still waiting while the lock is held");
  rmSync(lock);
  const r = await run;
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /2 ran, 0 cached/);
});

test.run();
