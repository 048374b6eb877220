// The terminal build view on a real pseudo-terminal: the header stays on screen with honest counts
// (done, failed, interrupted apart), no frame is taller or wider than the terminal, a long reason is
// shortened, and lem clean --all asks before it removes everything.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fakeProject, okExperiments, leftovers, STACK } from "./helpers.js";
import { LEM_BIN } from "../helpers/project.js";
import { frames, hasPython, runOnPty, type PtyStep } from "../helpers/pty.js";

if (!hasPython()) throw new Error("these tests need python3 with its pty module (a real terminal for lem); install python3");

type Project = ReturnType<typeof fakeProject>;
/** `lem ARGS` on a terminal: not CI, so lem draws its live view. */
function onPty(project: Project, args: string[], size: { rows: number; columns: number }, env: NodeJS.ProcessEnv = {}, steps: PtyStep[] = []) {
  const base: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm", LEM_PYTHON: join(import.meta.dirname, "fixtures", "python3"), LEM_RUNNER_PYTORCH: "local", TMPDIR: project.tmp, ...env };
  delete base.CI;
  return runOnPty([process.execPath, LEM_BIN, ...args], { cwd: project.dir, env: base, ...size, steps });
}
const HEADER = /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏✔✖■] \d+\/\d+ done/;

test("more nodes than terminal rows: every frame fits, starts with the header, and finished rows roll up", async () => {
  const experiments = Array.from({ length: 24 }, (_, i) => `{ name: "e${i}", model: "fake:ok", random_seed: ${i} }`);
  const project = fakeProject(`{ experiments: [${experiments.join(", ")}, { name: "boom", model: "fake:boom" }] }`);
  const r = await onPty(project, ["build", "--keep-going"], { rows: 12, columns: 60 }, { LEM_FAKE_SLEEP: "0.1" });
  const shown = frames(r.output);
  assert.is(r.code, 1, r.output.slice(-2000));
  assert.ok(shown.length > 5, `the view redraws (${shown.length} frames)`);
  for (const frame of shown.slice(0, -1)) {
    assert.ok(frame.length <= 11, `a frame of ${frame.length} lines on a 12-row terminal:\n${frame.join("\n")}`);
    assert.match(frame[0], HEADER, `the header is the first line:\n${frame.join("\n")}`);
    for (const line of frame) assert.ok([...line].length < 60, `wider than the terminal: ${line}`);
  }
  assert.ok(shown.some((f) => f.some((l) => /\(rolled up; lem status lists every node\)/.test(l))), "finished rows roll up");
  assert.ok(shown.some((f) => f.some((l) => /… \d+ more queued/.test(l))), "queued rows beyond the screen are counted");
  const last = shown.at(-1)!;
  assert.match(last[0], /^✖ 24\/25 done · 1 failed · \d+s elapsed$/, "the failed node is counted apart, not as done");
  assert.ok(last.some((l) => /^ {4}HarnessError: the harness exited with code 3/.test(l)), "the failure is printed in full at the end");
  assert.not.match(r.output, STACK);
  assert.equal(leftovers(project), []);
});

test("Ctrl-C on the terminal: the header counts the nodes that did not run as interrupted, never as done", async () => {
  const project = fakeProject(okExperiments(4));
  // Ctrl-C once the first row has finished (its figures are drawn).
  const r = await onPty(project, ["build"], { rows: 24, columns: 100 }, { LEM_FAKE_SLEEP: "1" }, [{ after: "tok/s", send: "\u0003" }]);
  assert.is(r.code, 130, r.output.slice(-2000));
  const shown = frames(r.output);
  const headers = shown.map((f) => f.find((l) => HEADER.test(l))).filter((h): h is string => Boolean(h));
  assert.not.ok(headers.some((h) => /4\/4 done/.test(h)), `no header says 4/4 done:\n${headers.slice(-3).join("\n")}`);
  const last = /^■ (\d)\/4 done · (\d) interrupted · \d+s elapsed$/.exec(headers.at(-1) ?? "");
  assert.ok(last, `the last header counts interrupted nodes: ${headers.at(-1)}`);
  assert.is(Number(last![1]) + Number(last![2]), 4);
  assert.is(project.resultFiles().length, Number(last![1]), "what the header calls done is what was stored");
  assert.not.match(r.output, STACK);
});

test("a reason with two dataset digests is shortened, so rows fit 80 columns", async () => {
  const project = fakeProject(`{ experiments: [{ name: "jsonl", model: "fake:ok", dataset: "prompts.jsonl" }] }`);
  writeFileSync(join(project.dir, "prompts.jsonl"), `{"prompt": "hello"}\n`);
  assert.is((await project.run("build")).code, 0);
  writeFileSync(join(project.dir, "prompts.jsonl"), `{"prompt": "something else"}\n`);
  const r = await onPty(project, ["build"], { rows: 24, columns: 80 });
  assert.is(r.code, 0, r.output);
  const rows = frames(r.output).flat().filter((l) => /jsonl #1/.test(l));
  assert.ok(rows.length > 0, r.output);
  for (const row of rows) {
    assert.match(row, /\(changed: dataset_sha256 [0-9a-f]{8}… → [0-9a-f]{8}…\)/);
    assert.ok([...row].length < 80, `fits in 80 columns: ${row}`);
  }
});

test("lem clean --all on a terminal asks first: n keeps every result, y removes them", async () => {
  const project = fakeProject(okExperiments(2));
  assert.is((await project.run("build")).code, 0);
  const stored = project.resultFiles();
  assert.is(stored.length, 2);
  const no = await onPty(project, ["clean", "--all"], { rows: 24, columns: 100 }, {}, [{ after: "[y/N]", send: "n\r" }]);
  assert.is(no.code, 2, no.output);
  assert.match(no.output, /Remove all 2 stored config\(s\) and their results in .*results\?/);
  assert.match(no.output, /declined: nothing removed/);
  assert.equal(project.resultFiles(), stored, "nothing removed");
  const yes = await onPty(project, ["clean", "--all"], { rows: 24, columns: 100 }, {}, [{ after: "[y/N]", send: "y\r" }]);
  assert.is(yes.code, 0, yes.output);
  assert.match(yes.output, /removed e0 {2}[0-9a-f]{16} {2}\(1 measured cycle\)/);
  assert.equal(project.resultFiles(), []);
  assert.ok(existsSync(join(project.dir, "lemfile.ts")), "only the store was touched");
});

test.run();
