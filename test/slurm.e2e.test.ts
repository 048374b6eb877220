// --runner slurm end to end against a real single-node Slurm (slurm-wlm + munge, brought up per file):
// 6 nodes built as sbatch jobs, Ctrl-C mid-build, and a job past its --time.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { TempProject } from "./helpers/project.js";
import { requirePython } from "./helpers/python.js";
import { requireSlurm, startCluster, type SlurmCluster } from "./helpers/slurm.js";
import { validators } from "../src/config/schemas.js";
import { PROBE_FILE } from "../src/exec/slurm/compute-hardware.js";
import { tempDir } from "./helpers/temp.js";

const FAST = `model: "synthetic:tiny", n: 2, max_input_tokens: 8, max_output_tokens: 4, precision: "fp32",
  warmup: { n_warmup: 1 }, baseline: { enabled: false }, pytorch: { num_threads: 1 }`;
const lemfile = `{ defaults: { ${FAST} }, experiments: [...sweep("bs", { "pytorch.batch_size": [1, 2, 3] })], execution: { cycles: 2 } }`;
const python = requirePython("slurm.e2e.test.ts");
const haveSlurm = requireSlurm("slurm.e2e.test.ts");

type BuildJson = { nodes: { name: string; state: string; error?: { type: string; message: string; fix?: string } }[]; summary: Record<string, number> };

/** A project whose .lem-config.yaml sends pytorch nodes to the test cluster. */
function slurmProject(cluster: SlurmCluster, slurmYaml: string, body = lemfile): TempProject {
  const project = new TempProject(body, { LEM_PYTHON: python!, ...cluster.env });
  writeFileSync(join(project.dir, ".lem-config.yaml"), `runners: { pytorch: slurm }\nslurm:\n${slurmYaml}`);
  return project;
}

/** A "Python" that never finishes: stands in for an experiment longer than its time limit. */
function sleeper(): string {
  const path = join(tempDir("lem-slurm-py-"), "python");
  writeFileSync(path, "#!/bin/sh\nsleep 600 &\nwait\n", { mode: 0o755 });
  return path;
}

const results = (p: TempProject) => p.resultFiles().map((f) => JSON.parse(readFileSync(join(p.dir, "results", f), "utf8")) as Record<string, unknown>);
/** Every key path of a result, values left out: the shape two runners must share. */
const shape = (value: unknown, prefix = ""): string[] =>
  value && typeof value === "object" && !Array.isArray(value)
    ? Object.entries(value).flatMap(([k, v]) => [`${prefix}${k}`, ...(prefix.split(".").length < 3 ? shape(v, `${prefix}${k}.`) : [])])
    : [];

if (haveSlurm) {
  test("without a reachable cluster, --runner slurm stops before any node with exit 2 and the fix", async () => {
    const project = new TempProject(`{ experiments: [{ name: "a", model: "synthetic:tiny" }] }`, { SLURM_CONF: "/nonexistent/slurm.conf" });
    const r = await project.run("build", "--runner", "slurm");
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /SLURM_CONF/);
    assert.equal(project.resultFiles(), []);
  });
}

if (python && haveSlurm) {
  // A small MaxArraySize, so 6 nodes with the same job options go as two arrays (4 + 2).
  const cluster = startCluster(["MaxArraySize=4"]);
  test.after(() => cluster.stop());

  test("6 nodes built through Slurm: stored results valid, shaped as the local runner's, measured on the compute node", async () => {
    const project = slurmProject(cluster, `  python: ${python}\n  shared_dir: .lem/slurm\n  time_limit: "10"\n  array_throttle: 1\n`);
    const build = await project.json<BuildJson>("build");
    assert.equal(build.summary, { ran: 6, cached: 0, failed: 0, skipped: 0 }, JSON.stringify(build.nodes.filter((n) => n.error)));
    const slurmResults = results(project);
    assert.is(slurmResults.length, 6);
    for (const r of slurmResults) {
      assert.ok(validators.result(r), JSON.stringify(validators.result.errors));
      assert.is((r.effective_config as { runner_type: string }).runner_type, "slurm");
    }
    // Every node went through the cluster as a task of a job array (same job options; split at
    // MaxArraySize=4): one permanent jobcomp line each, all COMPLETED.
    const jobs = readFileSync(cluster.jobcomp, "utf8").split("\n").filter((l) => / Name=lem-array-\d /.test(l));
    assert.is(jobs.length, 6);
    assert.ok(jobs.every((l) => /JobState=COMPLETED /.test(l)));
    const arrays = [...new Set(jobs.map((l) => /ArrayJobId=(\d+)/.exec(l)![1]))];
    assert.equal(arrays.map((id) => jobs.filter((l) => l.includes(`ArrayJobId=${id} `)).length).sort(), [2, 4]);
    // slurm.array_throttle is the array's % limit, as Slurm recorded it.
    for (const id of arrays) assert.match(cluster.scontrol("show", "job", "-o", `${id}_0`), /ArrayTaskThrottle=1 /);
    // Nothing left behind on the shared folder once each node's result is stored, but the
    // compute node's hardware, found by one probe job before planning and kept for the next plans.
    assert.equal(readdirSync(join(project.dir, ".lem/slurm")), [PROBE_FILE]);
    assert.is(jobs.length + 1, readFileSync(cluster.jobcomp, "utf8").split("\n").filter((l) => / Name=lem-/.test(l)).length);
    const probed = JSON.parse(readFileSync(join(project.dir, ".lem/slurm", PROBE_FILE), "utf8")) as { host: { cpu: string } };
    assert.ok(slurmResults.every((r) => r.hardware === probed.host.cpu), `${probed.host.cpu} vs ${slurmResults[0].hardware}`);
    const again = await project.run("status", "--json");
    assert.ok((JSON.parse(again.stdout) as BuildJson).nodes.every((n) => n.state === "done"), again.stdout);
    assert.not.match(again.stderr, /warning/);

    const local = new TempProject(`{ defaults: { ${FAST} }, experiments: [{ name: "one", pytorch: { batch_size: 1 } }] }`, { LEM_PYTHON: python, LEM_RUNNER_PYTORCH: "local" });
    assert.is((await local.json<BuildJson>("build")).summary.ran, 1);
    const [localResult] = results(local);
    const differs = (a: string[], b: string[]) => a.filter((k) => !b.includes(k));
    const s = shape(slurmResults[0]), l = shape(localResult);
    assert.equal([differs(s, l), differs(l, s)], [[], []]);
    // The harness on the compute node fingerprints its hardware; here that node is this machine.
    assert.is(slurmResults[0].hardware, localResult.hardware);
  });

  test("a failing task of an array fails its own node only, with its own output kept; arrays: false submits one job per node", async () => {
    // The "Python" fails for batch_size 2 and is the real one otherwise.
    const picky = join(tempDir("lem-slurm-py-"), "python");
    writeFileSync(picky, `#!/bin/sh\ngrep -Eq '"batch_size": ?2[,}]' "$LEM_CONFIG_PATH" && { echo "no batch 2 here" >&2; exit 3; }\nexec ${python} "$@"\n`, { mode: 0o755 });
    const project = slurmProject(cluster, `  python: ${picky}\n`);
    const build = await project.json<BuildJson>("build", "--keep-going");
    assert.equal(build.summary, { ran: 4, cached: 0, failed: 2, skipped: 0 }, JSON.stringify(build.nodes));
    const failed = build.nodes.filter((n) => n.state === "failed");
    assert.equal(failed.map((n) => n.name), ["bs-2", "bs-2"]);
    // Each keeps its own exchange dir, with its own task's output moved in from the array's folder.
    const dirs = failed.map((n) => (n.error as { exchangeDir?: string }).exchangeDir ?? "");
    assert.is(new Set(dirs).size, 2, JSON.stringify(failed));
    for (const dir of dirs) {
      const out = readdirSync(dir).filter((f) => /^slurm-\d+_\d+\.out$/.test(f));
      assert.is(out.length, 1, readdirSync(dir).join(" "));
      assert.match(readFileSync(join(dir, out[0]), "utf8"), /no batch 2 here/);
    }
    assert.ok(failed.every((n) => n.error!.type === "HarnessError" && /code 3/.test(n.error!.message)));
    // The arrays' own folders are gone once every task's output has moved to its node.
    assert.equal(readdirSync(join(project.dir, ".lem/slurm")).filter((f) => f.startsWith("array-")), []);

    const single = slurmProject(cluster, `  python: ${python}\n  arrays: false\n`, `{ defaults: { ${FAST} }, experiments: [...sweep("one", { "pytorch.batch_size": [1, 2] })] }`);
    const before = readFileSync(cluster.jobcomp, "utf8");
    assert.is((await single.json<BuildJson>("build")).summary.ran, 2);
    const added = readFileSync(cluster.jobcomp, "utf8").slice(before.length).split("\n").filter((l) => / Name=lem-/.test(l));
    assert.is(added.filter((l) => / Name=lem-[0-9a-f]{16}-c1 /.test(l)).length, 2, added.join("\n"));
    assert.not.ok(added.some((l) => /Name=lem-array/.test(l)));
  });

  test("Ctrl-C mid-build cancels the job with scancel: no job left, nothing stored", async () => {
    const project = slurmProject(cluster, `  python: ${sleeper()}\n  poll_max_seconds: 0.5\n`);
    const build = project.run("build");
    const deadline = Date.now() + 30_000;
    // A node's job: a task of an array (the hardware probe before it is a plain job).
    while (!/_\d+ RUNNING/.test(cluster.squeue())) {
      if (Date.now() > deadline) throw new Error(`the job never ran: ${cluster.squeue()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    build.child.kill("SIGINT");
    const done = await build;
    assert.is(done.code, 130, done.stderr);
    assert.is(cluster.squeue(), "");
    assert.equal(project.resultFiles(), []);
    const cancelled = readFileSync(cluster.jobcomp, "utf8").split("\n").filter((l) => /JobState=CANCELLED/.test(l));
    assert.ok(cancelled.length >= 1);
  });

  test("Ctrl-C while the hardware probe job waits in the queue cancels it: exit 130, no job, nothing kept", async () => {
    // --begin holds the probe (and any node job) in the queue: the interrupt lands during the probe.
    const project = slurmProject(cluster, `  python: ${python}\n  sbatch_args: ["--begin=now+600"]\n  poll_max_seconds: 0.5\n`);
    const build = project.run("build");
    const deadline = Date.now() + 30_000;
    while (!/PENDING/.test(cluster.squeue())) {
      if (Date.now() > deadline) throw new Error(`the probe was never queued: ${cluster.squeue()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    build.child.kill("SIGINT");
    const done = await build;
    assert.is(done.code, 130, done.stderr);
    assert.match(done.stderr, /interrupted while probing the compute nodes' hardware/);
    assert.not.match(done.stderr, /\n\s+at /);
    assert.is(cluster.squeue(), "");
    assert.equal(readdirSync(join(project.dir, ".lem/slurm")), []);
    assert.equal(project.resultFiles(), []);
  });

  test("a job past its time limit is a SlurmTimeout with its fix, and its output is kept", async () => {
    const project = slurmProject(cluster, `  python: ${sleeper()}\n  time_limit: "1"\n  poll_max_seconds: 2\n`,
      `{ defaults: { ${FAST} }, experiments: [{ name: "slow" }] }`);
    const build = await project.json<BuildJson>("build");
    assert.is(build.summary.failed, 1);
    const error = build.nodes[0].error!;
    assert.is(error.type, "SlurmTimeout");
    assert.match(error.fix ?? "", /slurm\.time_limit/);
    const kept = /kept in (\S+slurm-\d+\.out)/.exec(error.message)?.[1];
    assert.ok(kept && existsSync(kept), error.message);
    assert.is(cluster.squeue(), "");
  });
}

test.run();
