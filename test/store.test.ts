import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { hostname } from "node:os";
import { ResultStore } from "../src/store/store.js";
import { tryLock } from "../src/store/lock.js";
import { writeFileAtomic } from "../src/store/atomic.js";
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


test.run();
