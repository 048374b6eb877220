import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { join, dirname, basename } from "node:path";
import { hostname } from "node:os";
import { ResultStore } from "../src/store/store.js";
import { tryLock } from "../src/store/lock.js";
import { writeFileAtomic } from "../src/store/atomic.js";
import * as layout from "../src/store/layout.js";
import { measurementHash } from "../src/config/hash.js";
import { config, fakeResult } from "./helpers/fixtures.js";
import { tempDir } from "./helpers/temp.js";

const cfg = config();
const node = { hash: measurementHash(cfg), cycle: 1, names: ["a"], config: cfg, hardware: "cpu:Test CPU" };

test("an atomic write leaves only the complete file behind", () => {
  const dir = tempDir();
  writeFileAtomic(join(dir, "x.json"), '{"a":1}');
  writeFileAtomic(join(dir, "x.json"), '{"a":2}');
  assert.equal(readdirSync(dir), ["x.json"]);
  assert.is(readFileSync(join(dir, "x.json"), "utf8"), '{"a":2}');
});

test("a saved result shows as done for its cycle and hardware", () => {
  const store = new ResultStore(tempDir());
  store.saveConfig(node.hash, node.names, [], node.config, 1);
  const path = store.saveResult(fakeResult(node));
  assert.ok(path.includes(node.hash));
  const entry = store.snapshot().entries.get(node.hash)!;
  assert.equal(entry.done.get(1), ["cpu:Test CPU"]);
  assert.equal(entry.names, ["a"]);
  assert.is(store.results(node.hash).length, 1);
});

test("a corrupt result is moved aside with a warning and the cycle is missing again", () => {
  const store = new ResultStore(tempDir());
  const path = store.saveResult(fakeResult(node));
  writeFileSync(path, '{"schema_version": 1, "hash": "trunc');
  const snap = store.snapshot();
  assert.is(snap.entries.get(node.hash)!.done.size, 0);
  assert.is(snap.warnings.length, 1);
  assert.match(snap.warnings[0], /unreadable .* moved to .*corrupt-/);
  assert.not.ok(existsSync(path));
  assert.ok(readdirSync(dirname(path)).some((f) => f.includes(".corrupt-")));
});

test("a schema-invalid result is moved aside too", () => {
  const store = new ResultStore(tempDir());
  const path = store.saveResult(fakeResult(node));
  const bad = JSON.parse(readFileSync(path, "utf8"));
  bad.tokens.output = "many";
  writeFileSync(path, JSON.stringify(bad));
  const snap = store.snapshot();
  assert.is(snap.entries.get(node.hash)!.done.size, 0);
  assert.match(snap.warnings[0], /invalid result \(tokens\.output: expected integer/);
});

test("a lock held by a live process is respected; the owner's release frees it", () => {
  const dir = tempDir();
  const first = tryLock(join(dir, "n.lock"));
  assert.ok(first.acquired);
  const second = tryLock(join(dir, "n.lock"));
  assert.not.ok(second.acquired);
  if (!second.acquired) assert.is(second.holder.pid, process.pid);
  if (first.acquired) first.release();
  assert.ok(tryLock(join(dir, "n.lock")).acquired);
});

test("a stale lock (dead pid) is broken", () => {
  const dir = tempDir();
  const pid = spawnSync("true").pid; // a process that has exited
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "n.lock"), JSON.stringify({ pid, host: hostname(), started_at: "" }));
  assert.ok(tryLock(join(dir, "n.lock")).acquired);
});


test("the store's files are where the layout says, and the layout recognises each of them", () => {
  const root = tempDir();
  const store = new ResultStore(root);
  store.saveConfig(node.hash, node.names, [], node.config, 1);
  const saved = store.saveResult(fakeResult(node));
  store.saveFailure(node.hash, 2, node.hardware, { type: "HarnessError", message: "x", at: "" });
  const lock = store.lock(node.hash, 3);
  assert.is(saved, layout.resultPath(root, node.hash, node.hardware, 1));
  assert.ok(existsSync(layout.configPath(root, node.hash)));
  assert.ok(existsSync(layout.failurePath(root, node.hash, node.hardware, 2)));
  assert.ok(existsSync(layout.lockPath(root, node.hash, 3)));
  if (lock.acquired) lock.release();
  assert.ok(layout.isHashDirName(node.hash));
  assert.not.ok(layout.isHashDirName(node.hash.toUpperCase()));
  assert.is(layout.parseResultFile(layout.resultFileName(7)), 7);
  assert.is(layout.parseResultFile(layout.failureFileName(7)), undefined);
  assert.is(layout.parseFailureFile(layout.failureFileName(7)), 7);
  assert.is(layout.parseFailureFile(layout.resultFileName(7)), undefined);
  const temp = layout.tempPath(join(root, "cycle-1.json"));
  assert.is(dirname(temp), root);
  for (const name of [layout.CONFIG_FILE, layout.failureFileName(2), layout.lockFileName(3), basename(layout.writeCheckPath(root)),
    basename(temp), layout.asidePath("cycle-1.json")]) {
    assert.ok(layout.isBookkeepingName(name), name);
  }
  assert.not.ok(layout.isBookkeepingName(layout.resultFileName(1)));
  assert.not.ok(layout.isBookkeepingName("notes.txt"));
  assert.is(store.hashFolders().join(), node.hash);
  assert.equal(new ResultStore(join(root, "none")).hashFolders(), []);
});

test.run();
