// File-system surprises around the store and lem's other outputs (issue 17 §2): a folder where a
// result file goes, a read-only --out, and lock files in the earlier format. Each gives its exit
// code and a message naming the path, no stack trace, nothing written outside the store, and no
// invalid result stored.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { tempDir } from "../helpers/temp.js";
import { mountTmpfs, tmpfsTest } from "../helpers/mount.js";
import { fakeProject, leftovers, okExperiments, partialResults, STACK } from "../faults/helpers.js";

type Project = ReturnType<typeof fakeProject>;
const noStack = (r: { stderr: string; stdout: string }) => assert.not.match(r.stderr + r.stdout, STACK, r.stderr);
const within = <T>(ms: number, what: string, p: Promise<T>) =>
  Promise.race([p, new Promise<never>((_, no) => setTimeout(() => no(new Error(`${what} did not finish within ${ms} ms`)), ms))]);

/** A project with `count` measured nodes, and the path of each node's result file. */
async function measured(count = 1, env: NodeJS.ProcessEnv = {}): Promise<{ project: Project; files: string[] }> {
  const project = fakeProject(okExperiments(count), env);
  const r = await project.run("build");
  assert.is(r.code, 0, r.stdout + r.stderr);
  return { project, files: project.resultFiles().map((f) => join(project.dir, "results", f)) };
}

/** The project folder's own entries: a command must not add any beside the store. */
const entries = (project: Project) => readdirSync(project.dir).sort();

test("a folder where a result file goes: build exits 2 naming it before measuring, and leaves it alone", async () => {
  const log = join(tempDir(), "measured.log");
  const { project, files } = await measured(2, { LEM_FAKE_LOG: log });
  rmSync(files[0]);
  mkdirSync(join(files[0], "notes"), { recursive: true });
  const before = entries(project);
  const r = await project.run("build");
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`${files[0]}: a folder is in the way where lem keeps a result file`));
  assert.match(r.stderr, /fix: move that folder out of/);
  noStack(r);
  assert.is(readFileSync(log, "utf8").trim().split("\n").length, 2, "the blocked node was not measured");
  assert.ok(existsSync(join(files[0], "notes")), "the folder is left as it was");
  assert.equal(entries(project), before);
  assert.equal(leftovers(project), []);
  assert.equal(partialResults(project).map((f) => join(project.dir, "results", f)), [files[0]], "only the user's folder is not a result");
  rmSync(files[0], { recursive: true });
  const again = await project.run("build");
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout, /1 ran, 1 cached/);
  assert.equal(partialResults(project), []);
});

tmpfsTest("bad-input/fs-surprises.test.ts", "the read-only --out test")("report --out on a read-only filesystem exits 1 naming it; the store is untouched", async () => {
  const { project, files } = await measured(1);
  const out = join(project.dir, "ro");
  const unmount = mountTmpfs(out, 1024, "ro");
  try {
    const stored = readFileSync(files[0], "utf8");
    const r = await project.run("report", "--out", "ro/report");
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`--out: ${out}/report is on a read-only filesystem`));
    assert.match(r.stderr, /fix: pass --out a writable place/);
    noStack(r);
    assert.is(readFileSync(files[0], "utf8"), stored);
  } finally {
    unmount();
  }
});

/** Writes a lock in the earlier format (pid, host, started_at; no process identity) for a node. */
function oldLock(project: Project, hash: string, pid: number, startedAt: string): string {
  const path = join(project.dir, "results", hash, "cycle-1.lock");
  writeFileSync(path, JSON.stringify({ pid, host: hostname(), started_at: startedAt }));
  return path;
}

for (const [why, lockOf] of [
  ["its pid now belongs to a younger process", () => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    return { pid: child.pid!, startedAt: new Date(Date.now() - 3_600_000).toISOString(), done: () => child.kill() };
  }],
  ["it was taken before this boot (pid 1 lives on)", () => ({ pid: 1, startedAt: "2020-01-01T00:00:00.000Z", done: () => {} })],
] as const) {
  test(`build breaks an earlier-format lock when ${why}, and measures the node`, async () => {
    const { project, files } = await measured(1);
    rmSync(files[0]);
    const hash = files[0].split("/").at(-3)!;
    const owner = lockOf();
    try {
      const lock = oldLock(project, hash, owner.pid, owner.startedAt);
      const r = await within(20_000, "lem build (waiting on a stale lock?)", project.run("build"));
      assert.is(r.code, 0, r.stdout + r.stderr);
      assert.not.match(r.stderr, /being measured by another lem build/);
      assert.match(r.stdout, /1 ran/);
      assert.not.ok(existsSync(lock), "the stale lock is gone");
      assert.equal(partialResults(project), []);
    } finally {
      owner.done();
    }
  });
}

test("an earlier-format lock of a live, older process is respected (it may be a running build)", async () => {
  const { project, files } = await measured(1);
  rmSync(files[0]);
  const hash = files[0].split("/").at(-3)!;
  oldLock(project, hash, process.pid, new Date().toISOString());
  const run = project.run("build");
  const stopOnWait = (d: Buffer) => { if (/being measured by another lem build/.test(String(d))) run.child.kill("SIGINT"); };
  run.child.stdout!.on("data", stopOnWait);
  run.child.stderr!.on("data", stopOnWait);
  const r = await within(20_000, "lem build", run).finally(() => run.child.kill("SIGKILL"));
  assert.is(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, new RegExp(`being measured by another lem build \\(pid ${process.pid} on`));
  noStack(r);
});

test("import breaks an earlier-format lock of a process long gone and merges the result", async () => {
  const { project: ci } = await measured(1);
  const { project, files } = await measured(1);
  rmSync(files[0]);
  const hash = files[0].split("/").at(-3)!;
  oldLock(project, hash, 1, "2020-01-01T00:00:00.000Z");
  const r = await within(20_000, "lem import (waiting on a stale lock?)", project.run("import", join(ci.dir, "results")));
  assert.is(r.code, 0, r.stdout + r.stderr);
  noStack(r);
  assert.ok(existsSync(files[0]), "the result was merged");
  assert.equal(leftovers(project), []);
});

test.run();
