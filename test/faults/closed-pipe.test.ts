// A reader that goes away (`lem status | head -1`): every command ends quietly with 141, what a
// shell reports for a tool a closed pipe ended (128 + SIGPIPE), with no EPIPE stack trace; a build
// stops as on Ctrl-C and keeps only whole results.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { LEM_BIN } from "../helpers/project.js";
import { fakeProject, leftovers, okExperiments, partialResults, STACK } from "./helpers.js";

type Project = ReturnType<typeof fakeProject>;

/** Runs lem with stdout on a pipe whose reader closes after `bytes` bytes (0: before any). */
function piped(project: Project, args: string[], bytes = 0): Promise<{ code: number | null; signal: string | null; stderr: string; read: string }> {
  const child = spawn(process.execPath, [LEM_BIN, ...args], { cwd: project.dir, env: { ...process.env, CI: "true", LEM_PYTHON: join(import.meta.dirname, "fixtures/python3"), LEM_RUNNER_PYTORCH: "local", TMPDIR: project.tmp } });
  let stderr = "";
  let read = "";
  child.stderr.on("data", (d) => (stderr += d));
  const close = () => child.stdout.destroy();
  if (bytes === 0) close();
  else child.stdout.on("data", (d) => { read += d; if (read.length >= bytes) close(); });
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stderr, read })));
}

let shared: Project | undefined;
/** A project with many nodes (one measured), so every command has plenty to print. */
async function project(): Promise<Project> {
  if (shared) return shared;
  shared = fakeProject(okExperiments(400));
  const r = await shared.run("build", "e0");
  assert.is(r.code, 0, r.stderr);
  return shared;
}

for (const args of [["status"], ["status", "--json"], ["build", "--dry-run"], ["show", "e0", "--json"], ["matrix", "--format", "json"], ["--help"]]) {
  test(`lem ${args.join(" ")} into a closed pipe: exit 141, no stack trace, the store unchanged`, async () => {
    const p = await project();
    const before = p.resultFiles();
    const r = await piped(p, args);
    assert.is(r.code, 141, r.stderr);
    assert.not.match(r.stderr, /EPIPE/, r.stderr);
    assert.not.match(r.stderr, STACK, r.stderr);
    assert.equal(p.resultFiles(), before);
    assert.equal(leftovers(p), []);
  });
}

test("a build whose reader goes away stops as on Ctrl-C: exit 141, whole results only, no harness left", async () => {
  const p = fakeProject(okExperiments(6), { LEM_FAKE_SLEEP: "0.3" });
  const r = await piped(p, ["build"], 1);
  assert.is(r.code, 141, r.stderr);
  assert.not.match(r.stderr, STACK, r.stderr);
  assert.ok(p.resultFiles().length < 6, "the build stopped early");
  assert.equal(partialResults(p), []);
  assert.equal(leftovers(p), []);
  assert.equal(readdirSync(p.tmp).filter((n) => n.startsWith("llem-")), [], "no exchange dir (and so no harness) left behind");
});

test.run();
