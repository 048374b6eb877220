// The Slurm runner's pure parts: job options, the job script (Python or container), state → error.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { jobScript, jobName, sbatchOptions, gpusForJob, serverJobScript, sharedDir } from "../src/exec/slurm/slurm-runner.js";
import { serverJobName } from "../src/exec/slurm/server-job.js";
import { signalName } from "../src/exec/slurm/job-output.js";
import { spawnSync } from "node:child_process";
import { arrayChunks, arraySpec, liveTasks } from "../src/exec/slurm/job-array.js";
import { jobStateError, serverJobEndedError } from "../src/exec/slurm/slurm-errors.js";
import { jobcompEntry, unanswered, parseClusterConfig, parseExitCode, parseKeyValues } from "../src/exec/slurm/slurm-cli.js";
import type { SlurmSettings } from "../src/config/user-config.js";
import type { PlannedNode } from "../src/graph/plan.js";

const settings = (more: Partial<SlurmSettings> = {}): SlurmSettings => ({ sbatch_args: [], python: "python3", shared_dir: ".lem/slurm", poll_max_seconds: 5, max_jobs: 100, arrays: true, ...more });
const node = (config: Record<string, unknown>) => ({ hash: "0123456789abcdef", cycle: 2, config }) as unknown as PlannedNode;
const x = { dir: "/shared/llem-1", configFile: "h_config.json", resultFile: "h_result.json", errorFile: "h_error.json" };

test("sbatch gets partition, account, qos, time, GPUs and the extra options; nothing node-specific, so arrays can share them", () => {
  const args = sbatchOptions(settings({ partition: "gpu", account: "proj", qos: "high", time_limit: "1:00:00", gpus_per_node: 2, sbatch_args: ["--mem=32G"] }),
    node({ backend: "pytorch" }).config, "/home/me/project");
  for (const a of ["--partition=gpu", "--account=proj", "--qos=high", "--time=1:00:00", "--gpus-per-node=2", "--mem=32G", "--chdir=/home/me/project"]) assert.ok(args.includes(a), a);
  assert.not.ok(args.some((a) => /^--(job-name|output|array)/.test(a)));
  assert.is(jobName(node({})), "lem-0123456789abcdef-c2");
  // Two configs that ask for the same job are one array; another GPU count is another.
  const s = settings();
  assert.equal(sbatchOptions(s, node({ backend: "pytorch", pytorch: { batch_size: 1 } }).config, "/p"), sbatchOptions(s, node({ backend: "pytorch", pytorch: { batch_size: 8 } }).config, "/p"));
  assert.not.equal(sbatchOptions(s, node({ backend: "vllm" }).config, "/p"), sbatchOptions(s, node({ backend: "vllm", vllm: { engine: { tensor_parallel_size: 2 } } }).config, "/p"));
});

test("job arrays: split at MaxArraySize, the % throttle, and one squeue answer read for every task", () => {
  assert.equal(arrayChunks([1, 2, 3, 4, 5, 6], 4), [[1, 2, 3, 4], [5, 6]]);
  assert.equal(arrayChunks([1, 2], 1001), [[1, 2]]);
  assert.equal(arrayChunks([1, 2, 3], 1), [[1], [2], [3]]);
  assert.is(arraySpec(6), "--array=0-5");
  assert.is(arraySpec(6, 2), "--array=0-5%2");
  // squeue -r lists each task; a task shown in a final state has ended; other arrays are not ours.
  assert.equal([...liveTasks("12_2 PENDING\n12_3 PENDING\n12_1 RUNNING\n12_0 COMPLETING\n12_4 COMPLETED\n13_0 RUNNING\n", "12")].sort(), [0, 1, 2, 3]);
  assert.equal([...liveTasks("", "12")], []);
});

test("squeue that cannot reach slurmctld is asked again; one that no longer knows the id means the job has left", () => {
  assert.is(unanswered({ code: 1, stdout: "", stderr: "slurm_load_jobs error: Socket timed out on send/recv operation" }), true);
  assert.is(unanswered({ code: 1, stdout: "", stderr: "slurm_load_jobs error: Invalid job id specified" }), false);
  assert.is(unanswered({ code: 0, stdout: "RUNNING\n", stderr: "" }), false);
});

test("jobcomp/filetxt: an array task is found by ArrayJobId and ArrayTaskId (its JobId is its own)", () => {
  const text = [
    "JobId=2 Name=lem-array-4 JobState=COMPLETED ArrayJobId=1 ArrayTaskId=0 ExitCode=0:0",
    "JobId=1 Name=lem-array-4 JobState=FAILED ArrayJobId=1 ArrayTaskId=3 ExitCode=3:0",
    "JobId=7 Name=lem-0123456789abcdef-c1 JobState=TIMEOUT ExitCode=0:15",
  ].join("\n");
  assert.is(jobcompEntry(text, "1_3")?.get("JobState"), "FAILED");
  assert.is(jobcompEntry(text, "1_0")?.get("JobState"), "COMPLETED");
  assert.is(jobcompEntry(text, "1_1"), undefined);
  assert.is(jobcompEntry(text, "7")?.get("JobState"), "TIMEOUT");
});

test("GPUs asked for: vLLM's tensor parallel size, pytorch on cuda one, CPU none; gres replaces them", () => {
  assert.is(gpusForJob(settings(), node({ backend: "vllm", vllm: { engine: { tensor_parallel_size: 4 } } }).config), 4);
  assert.is(gpusForJob(settings(), node({ backend: "pytorch", pytorch: { device: "cuda" } }).config), 1);
  assert.is(gpusForJob(settings(), node({ backend: "pytorch", pytorch: { device: "auto" } }).config), 0);
  const args = sbatchOptions(settings({ gres: "gpu:a100:1" }), node({ backend: "vllm" }).config, "/p");
  assert.ok(args.includes("--gres=gpu:a100:1"));
  assert.not.ok(args.some((a) => a.startsWith("--gpus-per-node")));
});

test("the job script runs the harness with the configured Python, or through the container prefix", () => {
  const plain = jobScript(settings({ python: "/opt/py/bin/python" }), x, "/pkg/docker/harness");
  assert.match(plain, /exec '\/opt\/py\/bin\/python' -m lem_harness/);
  assert.match(plain, /export LEM_CONFIG_PATH='\/shared\/llem-1\/h_config.json'/);
  assert.match(plain, /export LLEM_CONFIG_PATH='\/shared\/llem-1\/h_config.json'/, "the old name too, for an older harness");
  assert.match(plain, /PYTHONPATH='\/pkg\/docker\/harness'/);
  assert.not.match(plain, /L?LEM_PARENT_PID/);
  const container = jobScript(settings({ container: "apptainer exec --nv lem.sif" }), x);
  assert.match(container, /exec apptainer exec --nv lem.sif 'python3' -m lem_harness/);
});

test("a server job's script runs the job worker on its queue folder, as the node's script runs the harness; its name shows key and lane", () => {
  const plain = serverJobScript(settings({ python: "/opt/my py/bin/python" }), "/shared/server-job-1", "/pkg/docker/harness");
  assert.match(plain, /exec '\/opt\/my py\/bin\/python' -m lem_harness\.serving\.job_worker '\/shared\/server-job-1'\n/);
  assert.match(plain, /PYTHONPATH='\/pkg\/docker\/harness'/);
  // The worker gives each node its config path and its own pid as the parent; the script sets neither.
  assert.not.match(plain, /L?LEM_(CONFIG_PATH|PARENT_PID)/);
  const container = serverJobScript(settings({ container: "apptainer exec --nv 'my images/lem.sif'" }), "/shared/q");
  assert.match(container, /exec apptainer exec --nv 'my images\/lem.sif' 'python3' -m lem_harness\.serving\.job_worker '\/shared\/q'/);
  assert.is(spawnSync("sh", ["-n"], { input: container }).status, 0);
  assert.is(serverJobName({ key: "0123456789abcdef", lane: 3 }), "lem-srv-0123456789abcdef-l3");
});

test("a server job that ended under a node without Slurm's verdict names its state, its kept output and the worker", () => {
  const e = serverJobEndedError("9", { state: "FAILED", exitCode: 1, signal: null, reason: "NonZeroExitCode" }, "/s/llem-1/slurm-9.out");
  assert.is(e.type, "SlurmJobFailed");
  assert.match(e.message, /server job 9 ended \(FAILED, exit 1, NonZeroExitCode\).*\/s\/llem-1\/slurm-9\.out/);
  assert.match(e.fix!, /job_worker/);
  assert.match(serverJobEndedError("9", undefined, "o").message, /Slurm keeps no record/);
  // Signals come by number from Slurm's ExitCode and by name from the worker's exit marker.
  assert.equal([signalName(9), signalName("SIGTERM"), signalName("SIGNOPE"), signalName(null)], ["SIGKILL", "SIGTERM", null, null]);
});

test("a relative shared folder is under the project, an absolute one as given", () => {
  assert.is(sharedDir(settings(), "/home/me/p"), "/home/me/p/.lem/slurm");
  assert.is(sharedDir(settings({ shared_dir: "/scratch/lem" }), "/home/me/p"), "/scratch/lem");
});

test("each Slurm verdict is its own error with a fix that names the setting; COMPLETED and a harness exit are not", () => {
  const cases: [string, string, RegExp][] = [
    ["TIMEOUT", "SlurmTimeout", /slurm\.time_limit/], ["OUT_OF_MEMORY", "SlurmOutOfMemory", /--mem/],
    ["NODE_FAIL", "SlurmNodeFail", /--exclude/], ["CANCELLED", "SlurmCancelled", /scancel|preempt/],
  ];
  for (const [state, type, fix] of cases) {
    const e = jobStateError("7", { state, exitCode: 0, signal: 15 }, "/s/slurm-7.out")!;
    assert.is(e.type, type);
    assert.match(e.fix!, fix);
    assert.match(e.message, /\/s\/slurm-7\.out/);
  }
  assert.is(jobStateError("7", { state: "FAILED", exitCode: 0, signal: null, reason: "JobLaunchFailure" }, "o")?.type, "SlurmJobFailed");
  assert.is(jobStateError("7", { state: "FAILED", exitCode: 1, signal: null }, "o"), undefined);
  assert.is(jobStateError("7", { state: "COMPLETED", exitCode: 0, signal: null }, "o"), undefined);
});

test("scontrol and jobcomp text parse into states, exit codes and cluster settings", () => {
  const kv = parseKeyValues("JobId=1 UserId=root(0) JobState=FAILED Partition=debug ExitCode=3:0 ");
  assert.is(kv.get("JobState"), "FAILED");
  assert.equal(parseExitCode(kv.get("ExitCode")), { exitCode: 3, signal: null });
  assert.equal(parseExitCode("0:15"), { exitCode: 0, signal: 15 });
  const config = parseClusterConfig("AccountingStorageType   = accounting_storage/none\nJobCompLoc              = /var/jobcomp.txt\nJobCompType             = jobcomp/filetxt\nMaxArraySize            = 1001\n");
  assert.equal(config, { maxArraySize: 1001, accounting: false, jobcompFile: "/var/jobcomp.txt" });
  assert.is(parseClusterConfig("AccountingStorageType = accounting_storage/slurmdbd\n").accounting, true);
});

test.run();
