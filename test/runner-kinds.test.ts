// Each runner kind's policy is one entry of one map, and lem listens for Ctrl-C in one place:
// the first interrupt stops, the second kills, and nothing listens once a command is done.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RUNNER_KINDS, kindOf } from "../src/config/runner-kinds.js";
import { RUNNER_POLICIES, byKind } from "../src/exec/runner-kinds.js";
import { gpusOnHost, gpusPerRun } from "../src/config/gpus.js";
import { gpusForJob } from "../src/exec/slurm/slurm-runner.js";
import { listenForInterrupts, untilInterrupted } from "../src/exec/interrupt-signals.js";
import { loadUserConfig } from "../src/config/user-config.js";
import { tempDir } from "./helpers/temp.js";
import type { ExperimentConfig } from "../src/lemfile/types.js";
import { resolveSetting } from "../src/config/settings.js";

test("every kind has a policy; only a cluster's nodes run off this host and plan for other hardware", () => {
  assert.equal(Object.keys(RUNNER_POLICIES).sort(), [...RUNNER_KINDS].sort());
  const user = loadUserConfig(tempDir());
  for (const kind of RUNNER_KINDS) {
    const policy = RUNNER_POLICIES[kind];
    assert.is(policy.onHost, kind !== "slurm", kind);
    assert.is("planningHardware" in policy, !policy.onHost, `${kind}: plans for other hardware only off this host`);
    assert.equal(resolveSetting(policy.jobs(user)), kind === "slurm"
      ? { value: user.slurm.max_jobs, source: "default" } : { value: user.jobs, source: "default" }, kind);
  }
  assert.is(RUNNER_POLICIES.docker.confirms("persistent"), true);
  assert.is(RUNNER_POLICIES.docker.confirms("ephemeral"), false);
});

test("a runner name's kind: docker:<image> is docker; backends group by kind in backend order", () => {
  assert.is(kindOf("docker:my/image:tag"), "docker");
  assert.is(kindOf("slurm"), "slurm");
  const groups = byKind(new Map([["vllm", { spec: "docker:x", source: "cli" }], ["pytorch", { spec: "local", source: "cli" }]] as const));
  assert.equal([...groups.keys()], ["docker", "local"]);
});

test("GPUs per config from one home: vLLM's tensor parallel size; the host's pool and a Slurm job differ only on pytorch", () => {
  const vllm = { model: "m", backend: "vllm", vllm: { engine: { tensor_parallel_size: 4 } } } as ExperimentConfig;
  const cpu = { model: "m", backend: "pytorch", pytorch: { device: "cpu" } } as ExperimentConfig;
  const auto = { model: "m", backend: "pytorch", pytorch: { device: "auto" } } as ExperimentConfig;
  const slurm = loadUserConfig(tempDir()).slurm;
  assert.equal([gpusPerRun(vllm), gpusOnHost(vllm), gpusForJob(slurm, vllm)], [4, 4, 4]);
  assert.equal([gpusOnHost(cpu), gpusForJob(slurm, cpu)], [0, 0]);
  assert.equal([gpusOnHost(auto), gpusForJob(slurm, auto)], [1, 0], "auto: a GPU where there is one; a job asks for none");
});

test("the first interrupt aborts stop, the second kill; dispose stops listening", () => {
  const before = process.listenerCount("SIGINT");
  const beforeTerm = process.listenerCount("SIGTERM");
  const seen: boolean[] = [];
  const interrupts = listenForInterrupts({ onInterrupt: (hard) => seen.push(hard) });
  assert.is(process.listenerCount("SIGINT"), before + 1);
  process.emit("SIGINT");
  assert.equal([interrupts.stop.aborted, interrupts.kill.aborted], [true, false]);
  process.emit("SIGTERM");
  assert.equal([interrupts.stop.aborted, interrupts.kill.aborted], [true, true]);
  assert.equal(seen, [false, true]);
  interrupts.dispose();
  assert.is(process.listenerCount("SIGINT"), before);
  assert.is(process.listenerCount("SIGTERM"), beforeTerm);
});

test("untilInterrupted: Ctrl-C aborts the work's signal; no handler is left after it settles", async () => {
  const before = process.listenerCount("SIGINT");
  const beforeTerm = process.listenerCount("SIGTERM");
  const aborted = await untilInterrupted(async (signal) => {
    process.emit("SIGINT");
    return signal.aborted;
  });
  assert.is(aborted, true);
  assert.is(process.listenerCount("SIGINT"), before);
  await untilInterrupted(async () => { assert.is(process.listenerCount("SIGTERM"), beforeTerm, "SIGINT only"); }, ["SIGINT"]);
});

test.run();
