// A harness killed from outside is reported as killed, by which signal; its kept exchange dir is
// never reaped; nothing is stored for it and nothing is left locked or running.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/temp.js";
import { fakeProject, leftovers, fakeHarnesses, until, STACK } from "./helpers.js";

test("SIGKILL of the harness: exit 1, 'killed by SIGKILL (signal 9)', dir kept and not reaped; the other node still runs", async () => {
  const pids = tempDir();
  const project = fakeProject(`{ experiments: [{ name: "victim", model: "fake:hang" }, { name: "other", model: "fake:ok" }] }`, { LEM_FAKE_PIDS: pids });
  const run = project.run("build", "--keep-going");
  await until(() => readdirSync(pids).length === 1, "the harness to start");
  const pid = Number(readFileSync(join(pids, readdirSync(pids)[0]), "utf8"));
  process.kill(pid, "SIGKILL");
  const r = await run;
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /FAILED\s+victim #1 .*the harness was killed by SIGKILL \(signal 9\) and wrote no result/);
  assert.not.match(r.stdout, /exited with code 128/);
  assert.match(r.stdout, /fix: something outside lem stopped it/);
  assert.not.match(r.stderr, STACK);
  const kept = /kept: (\S+)/.exec(r.stdout)?.[1];
  assert.ok(kept && existsSync(join(kept, ".lem-kept")), `the kept dir is marked kept: ${kept}`);
  assert.match(r.stdout, /1 ran, 0 cached, 1 failed/);
  assert.equal(leftovers(project), []);
  assert.equal(project.resultFiles().length, 1, "only the other node is stored");
  // The next build (its owner, lem, is dead now) must leave the kept dir for the user to read.
  project.write(`{ experiments: [{ name: "other", model: "fake:ok" }] }`);
  const next = await project.run("build");
  assert.is(next.code, 0, next.stdout + next.stderr);
  assert.ok(existsSync(kept!), "a dir kept on failure is never reaped");
  await until(() => fakeHarnesses().length === 0, "no fake harness left running", 5000);
});

test.run();
