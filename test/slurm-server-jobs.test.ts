// Server jobs (src/exec/slurm/server-jobs.ts) against a stand-in Slurm (sbatch, squeue, scancel as
// small scripts on PATH) and a stand-in worker (this test, writing what job_worker.py writes): how
// lem hands nodes to a key's job, reads their ends, finishes the job after the key's last node, and
// what happens when the job goes under a node or is cancelled. The real thing: slurm-serving.e2e.test.ts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ServerJobs } from "../src/exec/slurm/server-jobs.js";
import { queueFiles } from "../src/exec/slurm/server-job.js";
import type { JobState } from "../src/exec/slurm/slurm-cli.js";
import type { ExchangeDir } from "../src/exec/exchange-dir.js";
import type { RunContext, ServerShare } from "../src/exec/runner.js";
import { tempDir } from "./helpers/temp.js";

const KEY = "0123456789abcdef";
const OTHER = "fedcba9876543210";

/** sbatch numbers jobs from 42 and marks each RUNNING; squeue shows that mark; scancel removes it (the job leaves). */
function fakeSlurm(): { dir: string; restore(): void; submitted(): string[]; cancelled(): string[]; leave(jobId: string): Promise<void> } {
  const dir = tempDir("lem-fake-slurm-");
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const script = (name: string, body: string) => writeFileSync(join(bin, name), `#!/bin/sh\nS=${dir}\n${body}\n`, { mode: 0o755 });
  script("sbatch", [
    `echo "$@" >> "$S/sbatch.log"`,
    `n=$(( $(cat "$S/next" 2>/dev/null || echo 41) + 1 )); echo $n > "$S/next"`,
    `for a in "$@"; do case "$a" in --output=*) out="\${a#--output=}";; esac; done`,
    `echo "fake job output of $n" > "$(echo "$out" | sed "s/%j/$n/")"`,
    `echo RUNNING > "$S/state-$n"`,
    `echo $n`,
  ].join("\n"));
  script("squeue", `cat "$S/state-$3" 2>/dev/null; exit 0`);
  script("scancel", `for a in "$@"; do id=$a; done\necho "$@" >> "$S/scancel.log"\nrm -f "$S/state-$id"`);
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path}`;
  const lines = (file: string) => { try { return readFileSync(join(dir, file), "utf8").trim().split("\n").filter(Boolean); } catch { return []; } };
  return {
    dir,
    restore: () => { process.env.PATH = path; },
    submitted: () => lines("sbatch.log"),
    cancelled: () => lines("scancel.log"),
    // Once the job is there (sbatch may still be running), it leaves the queue.
    leave: async (jobId) => {
      for (let i = 0; i < 200 && !existsSync(join(dir, `state-${jobId}`)); i++) await sleep(20);
      rmSync(join(dir, `state-${jobId}`), { force: true });
    },
  };
}

function exchangeDir(parent: string, hash: string): ExchangeDir {
  const dir = join(parent, `llem-${hash}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${hash}_config.json`), "{}");
  return { dir, configFile: `${hash}_config.json`, resultFile: `${hash}_result.json`, errorFile: `${hash}_error.json` };
}

const context = (): RunContext & { ctrlC(): void } => {
  const stop = new AbortController();
  return { stop: stop.signal, kill: new AbortController().signal, totalCycles: 1, ctrlC: () => stop.abort() };
};
const share = (more: Partial<ServerShare> = {}): ServerShare => ({ key: KEY, lane: 0, last: false, ...more });
const spec = { options: ["--nodes=1", "--time=5"], script: (queue: string) => `#!/bin/sh\n# worker for ${queue}\n` };

/** The queue folder of the lane's job (not `except`), once it is there. */
async function queueOf(parent: string, except?: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const found = readdirSync(parent).find((n) => n.startsWith("server-job-") && join(parent, n) !== except);
    if (found) return join(parent, found);
    await sleep(20);
  }
  throw new Error("no queue folder");
}

/** What the worker does with node `seq`: reads its file, then writes its exit marker. */
async function workerRuns(queue: string, seq: number, exitCode: number): Promise<Record<string, unknown>> {
  const path = join(queue, queueFiles.node(seq));
  for (let i = 0; i < 200 && !existsSync(path); i++) await sleep(20);
  const node = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  writeFileSync(join(queue, queueFiles.exit(seq)), JSON.stringify({ seq, exit_code: exitCode, signal: null }));
  return node;
}

function setup(states: Record<string, JobState> = {}) {
  const slurm = fakeSlurm();
  const parent = tempDir("lem-shared-");
  const jobs = new ServerJobs({ parent, maxPollMs: 100, finalState: async (id) => states[id] ?? { state: "COMPLETED", exitCode: 0, signal: null } });
  return { slurm, parent, jobs };
}

test("a key's nodes go to one server job in turn; after the last, `done` and the job leaves; nothing is left", async () => {
  const { slurm, parent, jobs } = setup();
  try {
    const first = exchangeDir(parent, "a".repeat(16));
    const running = jobs.launch(first, context(), share(), spec);
    const queue = await queueOf(parent);
    const node = await workerRuns(queue, 1, 0);
    assert.equal(node, { seq: 1, config_path: join(first.dir, first.configFile), log_path: join(first.dir, "harness.log"), last: false });
    assert.is((await running).exitCode, 0);
    // The heartbeat is there for the worker; the job is named for its key and lane, with the node's options.
    assert.ok(existsSync(join(queue, queueFiles.heartbeat)));
    assert.match(slurm.submitted()[0], new RegExp(`--job-name=lem-srv-${KEY}-l0 --output=${queue}/slurm-%j.out --nodes=1 --time=5 ${queue}/job.sh`));

    const second = exchangeDir(parent, "b".repeat(16));
    const again = jobs.launch(second, context(), share({ last: true }), spec);
    assert.equal((await workerRuns(queue, 2, 1)).last, true);
    assert.is((await again).exitCode, 1, "a failed harness fails its node only: the job stays");
    assert.is(slurm.submitted().length, 1, "one job for both nodes");

    const finishing = jobs.finish(0);
    for (let i = 0; i < 100 && !existsSync(join(queue, queueFiles.done)); i++) await sleep(20);
    assert.ok(existsSync(join(queue, queueFiles.done)), "lem tells the worker no node follows");
    await slurm.leave("42");
    assert.is(await finishing, undefined);
    assert.not.ok(existsSync(queue), "the queue folder goes with a cleanly ended job");
    assert.equal(slurm.cancelled(), []);
  } finally {
    slurm.restore();
  }
});

test("the job leaving the queue under a node fails it with the job's state; its output is kept with the node; the next node submits a fresh job", async () => {
  const { slurm, parent, jobs } = setup({ 42: { state: "FAILED", exitCode: 1, signal: null } });
  try {
    const x = exchangeDir(parent, "a".repeat(16));
    const running = jobs.launch(x, context(), share(), spec);
    await queueOf(parent);
    await slurm.leave("42");
    const outcome = await running;
    assert.is(outcome.error?.type, "SlurmJobFailed");
    assert.match(outcome.error!.message, /server job 42 ended \(FAILED, exit 1\)/);
    assert.match(outcome.error!.fix!, /job_worker/);
    assert.match(readFileSync(join(x.dir, "slurm-42.out"), "utf8"), /fake job output of 42/);
    assert.ok(outcome.error!.message.includes(join(x.dir, "slurm-42.out")));
    assert.equal(readdirSync(parent).filter((n) => n.startsWith("server-job-")), []);

    const next = jobs.launch(exchangeDir(parent, "b".repeat(16)), context(), share(), spec);
    await workerRuns(await queueOf(parent), 1, 0);
    assert.is((await next).exitCode, 0);
    assert.is(slurm.submitted().length, 2);
    const ending = jobs.dispose();
    await slurm.leave("43");
    await ending;
  } finally {
    slurm.restore();
  }
});

test("Ctrl-C scancels the server job and waits until it has left; the outcome is interrupted", async () => {
  const { slurm, parent, jobs } = setup({ 42: { state: "CANCELLED", exitCode: 0, signal: 15 } });
  try {
    const ctx = context();
    const running = jobs.launch(exchangeDir(parent, "a".repeat(16)), ctx, share(), spec);
    await queueOf(parent);
    ctx.ctrlC();
    const outcome = await running;
    assert.is(outcome.interrupted, true);
    assert.equal(slurm.cancelled(), ["42"]);
    assert.equal(readdirSync(parent).filter((n) => n.startsWith("server-job-")), []);
  } finally {
    slurm.restore();
  }
});

test("a node of another key in the lane finishes the old key's job before its own is submitted", async () => {
  const { slurm, parent, jobs } = setup();
  try {
    const running = jobs.launch(exchangeDir(parent, "a".repeat(16)), context(), share(), spec);
    const oldQueue = await queueOf(parent);
    await workerRuns(oldQueue, 1, 0);
    await running;
    const other = jobs.launch(exchangeDir(parent, "b".repeat(16)), context(), share({ key: OTHER }), spec);
    for (let i = 0; i < 100 && !existsSync(join(oldQueue, queueFiles.done)); i++) await sleep(20);
    assert.ok(existsSync(join(oldQueue, queueFiles.done)));
    assert.is(slurm.submitted().length, 1, "the new job waits until the old one has gone");
    await slurm.leave("42");
    await workerRuns(await queueOf(parent, oldQueue), 1, 0);
    assert.is((await other).exitCode, 0);
    assert.match(slurm.submitted()[1], new RegExp(`--job-name=lem-srv-${OTHER}-l0 `));
    const ending = jobs.dispose();
    await slurm.leave("43");
    await ending;
    assert.equal(readdirSync(parent).filter((n) => n.startsWith("server-job-")), []);
  } finally {
    slurm.restore();
  }
});

test.run();
