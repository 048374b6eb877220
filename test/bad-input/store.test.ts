// Store-side bad input: results folders, entries and files of the wrong kind or cut short. Each
// gives its exit code and a message naming the path, never a stack trace, and loses no result.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/temp.js";
import { mountTmpfs, tmpfsTest } from "../helpers/mount.js";
import { fakeProject, okExperiments, partialResults, STACK } from "../faults/helpers.js";

type Project = ReturnType<typeof fakeProject>;
const noStack = (r: { stderr: string; stdout: string }) => assert.not.match(r.stderr + r.stdout, STACK, r.stderr);

/** A project with `count` measured nodes, and the path of each node's result file. */
async function measured(count = 1, env: NodeJS.ProcessEnv = {}): Promise<{ project: Project; files: string[] }> {
  const project = fakeProject(okExperiments(count), env);
  const r = await project.run("build");
  assert.is(r.code, 0, r.stdout + r.stderr);
  return { project, files: project.resultFiles().map((f) => join(project.dir, "results", f)) };
}

test("results_dir that is a file: status and build exit 2 naming it, and the file is left alone", async () => {
  const project = fakeProject(okExperiments(1));
  writeFileSync(join(project.dir, "results"), "my notes");
  for (const command of ["status", "build"]) {
    const r = await project.run(command);
    assert.is(r.code, 2, `${command}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /results.* is a file/);
    noStack(r);
  }
  assert.is(readFileSync(join(project.dir, "results"), "utf8"), "my notes");
});

test("a stray file named like a result folder: status warns and goes on; build measures around it", async () => {
  const { project } = await measured(1);
  const stray = join(project.dir, "results", "0123456789abcdef");
  writeFileSync(stray, "x");
  const r = await project.run("status");
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`warning: ${stray}: a file named like a result folder; ignored`));
  assert.match(r.stdout, /1 done/);
  noStack(r);
  const b = await project.run("build");
  assert.is(b.code, 0, b.stderr);
  assert.ok(existsSync(stray));
});

test("a hardware folder that is a file: exit 2 naming it before the node is measured", async () => {
  const log = join(tempDir(), "measured.log");
  const { project, files } = await measured(1, { LEM_FAKE_LOG: log });
  const hwName = files[0].split("/").at(-2)!;
  project.write(okExperiments(2));
  const status = await project.json("status");
  const pending = status.nodes.find((n) => n.state === "pending")!;
  mkdirSync(join(project.dir, "results", pending.hash));
  const blocker = join(project.dir, "results", pending.hash, hwName);
  writeFileSync(blocker, "");
  const r = await project.run("build");
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`${blocker}: a file is in the way where lem keeps a folder`));
  assert.match(r.stderr, /fix: move that file out of/);
  noStack(r);
  assert.is(readFileSync(log, "utf8").trim().split("\n").length, 1, "the blocked node was not measured");
});

test("a FIFO in place of a result file: status does not hang; it warns and the cycle is pending", async () => {
  const { project, files } = await measured(1);
  rmSync(files[0]);
  spawnSync("mkfifo", [files[0]]);
  const r = await Promise.race([project.run("status"), new Promise<never>((_, no) => setTimeout(() => no(new Error("lem status hung on a FIFO")), 20_000))]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`${files[0]}: a FIFO, not a regular file; ignored`));
  assert.match(r.stdout, /0 done, 1 pending/);
});

test("a truncated result is moved aside, reported and measured again; a truncated or missing config.json is rewritten", async () => {
  const { project, files } = await measured(2);
  writeFileSync(files[0], readFileSync(files[0], "utf8").slice(0, 4096 / 32));
  const configs = files.map((f) => join(f, "..", "..", "config.json"));
  writeFileSync(configs[0], '{"hash_version": 1, "hash": "tru');
  rmSync(configs[1]);
  const r = await project.run("build");
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /unreadable .* moved to .*corrupt-/);
  assert.match(r.stdout + r.stderr, /config\.json was (unreadable|missing): rewritten from the lemfile/);
  assert.match(r.stdout, /1 ran, 1 cached/);
  for (const config of configs) assert.ok(JSON.parse(readFileSync(config, "utf8")).config, `${config} is whole again`);
  assert.equal(partialResults(project), []);
  noStack(r);
});

test("lem status with a selector that matches nothing exits 2, like lem build", async () => {
  const project = fakeProject(okExperiments(1));
  for (const command of ["status", "build"]) {
    const r = await project.run(command, "zzz");
    assert.is(r.code, 2, `${command}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /no experiment matches "zzz"/);
  }
});

test("lem clean refuses while an experiment cannot be evaluated (missing dataset), and keeps its results", async () => {
  const { project, files } = await measured(1);
  const data = join(project.dir, "prompts.jsonl");
  writeFileSync(data, '{"prompt": "hi"}\n');
  project.write(`{ experiments: [{ name: "e0", model: "fake:ok", random_seed: 0 }, { name: "d", model: "fake:ok", dataset: "prompts.jsonl" }] }`);
  assert.is((await project.run("build")).code, 0);
  const stored = readdirSync(join(project.dir, "results")).length;
  rmSync(data); // the dataset is not on this machine now: "d" cannot be evaluated
  const r = await project.run("clean");
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /lemfile\.ts/);
  assert.match(r.stderr, /prompts\.jsonl/);
  noStack(r);
  assert.is(readdirSync(join(project.dir, "results")).length, stored, "nothing was removed");
  assert.ok(existsSync(files[0]));
});

tmpfsTest("bad-input/store.test.ts", "the read-only store test")("a read-only results folder: status reads it; build exits 1 naming the folder before measuring", async () => {
  const project = fakeProject(okExperiments(1));
  const results = join(project.dir, "results");
  const unmount = mountTmpfs(results, 1024);
  try {
    assert.is((await project.run("build")).code, 0);
    spawnSync("mount", ["-o", "remount,ro", results]);
    project.write(okExperiments(2));
    const s = await project.run("status");
    assert.is(s.code, 0, s.stderr);
    assert.match(s.stdout, /1 done, 1 pending/);
    const r = await project.run("build");
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`lem: ${results} is on a read-only filesystem`));
    assert.match(r.stderr, /fix: remount it read-write, or set results_dir/);
    noStack(r);
    assert.is(project.resultFiles().length, 1);
  } finally {
    unmount();
  }
});

test.run();
