// A full disk never leaves a half-written file and never crashes with a stack trace: every write
// is checked to its last byte, and the build stops with one message naming the folder.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { closeSync, ftruncateSync, fstatSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic, type WriteFn } from "../../src/store/atomic.js";
import { StoreError } from "../../src/store/store-error.js";
import { tryLock } from "../../src/store/lock.js";
import { tempDir } from "../helpers/temp.js";
import { mountTmpfs, tmpfsTest } from "../helpers/mount.js";
import { fakeProject, okExperiments, leftovers, partialResults, STACK } from "./helpers.js";

test("a write that stops short is ENOSPC: the temp file is removed and the old file is untouched", () => {
  const dir = tempDir();
  const path = join(dir, "cycle-1.json");
  writeFileSync(path, "old and whole");
  let written = 0;
  // Like a filesystem with a few bytes left: 10 bytes, then 0 with no error (what Node returns on some).
  const short: WriteFn = (fd, buffer, offset, length) => {
    const n = Math.min(length, Math.max(0, 10 - written));
    written += n;
    return n === 0 ? 0 : writeSync(fd, buffer, offset, n);
  };
  let error: unknown;
  try { writeFileAtomic(path, "x".repeat(5000), short); } catch (e) { error = e; }
  assert.instance(error, StoreError);
  assert.is((error as StoreError).exitCode, 1);
  assert.match((error as StoreError).message, new RegExp(`no space left while writing ${path}`));
  assert.match((error as StoreError).fix ?? "", new RegExp(`free space on the filesystem holding ${dir}`));
  assert.equal(readdirSync(dir), ["cycle-1.json"], "no temp file left");
  assert.is(readFileSync(path, "utf8"), "old and whole");
});

test("short writes that make progress are continued to the last byte", () => {
  const dir = tempDir();
  const chunks: number[] = [];
  const trickle: WriteFn = (fd, buffer, offset, length) => { chunks.push(Math.min(length, 7)); return writeSync(fd, buffer, offset, Math.min(length, 7)); };
  const data = JSON.stringify({ a: "y".repeat(100) });
  writeFileAtomic(join(dir, "x.json"), data, trickle);
  assert.is(readFileSync(join(dir, "x.json"), "utf8"), data);
  assert.ok(chunks.length > 10);
});

/** The real full-disk tests fill a small tmpfs: a visible skip where none can be mounted, a failure under CI=true. */
const diskTest = tmpfsTest("faults/disk-full.test.ts", "the real full-disk tests");

/** Fills the filesystem holding `dir`, then frees `leaveBytes`: returns the filler's path. */
function fill(dir: string, leaveBytes: number): string {
  const filler = join(dir, "filler");
  const fd = openSync(filler, "w");
  const page = Buffer.alloc(4096, 1);
  try { for (;;) if (writeSync(fd, page) < page.length) break; } catch { /* ENOSPC: full */ }
  ftruncateSync(fd, Math.max(0, fstatSync(fd).size - leaveBytes));
  closeSync(fd);
  return filler;
}

diskTest("a build on a full disk: exit 1, one message naming the folder, nothing half-written, earlier results untouched, no temp or lock files; after freeing space the next build completes", async () => {
  const project = fakeProject(okExperiments(1));
  const results = join(project.dir, "results");
  const unmount = mountTmpfs(results, 256);
  try {
    const first = await project.run("build");
    assert.is(first.code, 0, first.stdout + first.stderr);
    const [kept] = project.resultFiles();
    const before = readFileSync(join(results, kept), "utf8");
    project.write(okExperiments(4));
    for (const leave of [0, 4096, 8192]) {
      const filler = fill(results, leave);
      const r = await project.run("build");
      const where = `${leave} bytes left:\n${r.stdout}\n${r.stderr}`;
      assert.is(r.code, 1, where);
      assert.match(r.stderr, /lem: no space left while (writing|locking|creating|creating a file in) .*results/, where);
      assert.match(r.stderr, /fix: free space on the filesystem holding .*results/, where);
      assert.not.match(r.stderr, STACK, where);
      assert.equal(leftovers(project), [], where);
      assert.equal(partialResults(project), [], where);
      assert.is(readFileSync(join(results, kept), "utf8"), before, "the earlier result is untouched");
      rmSync(filler);
    }
    const next = await project.run("build");
    assert.is(next.code, 0, next.stdout + next.stderr);
    assert.is(project.resultFiles().length, 4);
    assert.equal(partialResults(project), []);
  } finally { unmount(); }
});

diskTest("tryLock on a full disk removes its empty lock file and says so", () => {
  const dir = join(tempDir(), "store");
  const unmount = mountTmpfs(dir, 64);
  try {
    const filler = fill(dir, 0);
    let error: unknown;
    try { tryLock(join(dir, "cycle-1.lock")); } catch (e) { error = e; }
    assert.instance(error, StoreError);
    assert.match((error as StoreError).message, /no space left while locking .*cycle-1\.lock/);
    assert.equal(readdirSync(dir), ["filler"], "no lock file left behind");
    rmSync(filler);
  } finally { unmount(); }
});

test.run();
