// The Docker runner's unit tests: command construction and error translation, no Docker needed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { statSync, readFileSync, existsSync } from "node:fs";
import { dockerRunArgs, containerName, HARNESS_COMMAND, type RunSpec } from "../src/exec/docker/command.js";
import { translateDockerError } from "../src/exec/docker/errors.js";
import { writeSecretsFile } from "../src/exec/docker/secrets.js";
import { restartReason, type HealthPolicy } from "../src/exec/docker/health.js";
import { orphanRows } from "../src/exec/docker/reaper.js";
import { ownerLabels, LABEL } from "../src/exec/docker/labels.js";
import { hostname } from "node:os";
import { spawnSync } from "node:child_process";

const spec = (over: Partial<RunSpec> = {}): RunSpec => ({
  image: "lem-pytorch:abc", name: "lem-0123456789abcdef-c1-ff00ff00", exchangeDir: "/tmp/llem-x", configFile: "0123456789abcdef_config.json",
  labels: { "org.llenergymeasure.managed": "1" }, gpus: "all", shmSize: "8g", env: { LEM_CYCLE: "1" }, command: HARNESS_COMMAND, ...over,
});

const pairs = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

test("docker run: --init, GPUs, shm, the exchange mount, LEM_CONFIG_PATH (and its alias LLEM_CONFIG_PATH), labels, the harness entrypoint", () => {
  const args = dockerRunArgs(spec());
  assert.is(args[0], "run");
  assert.ok(args.includes("--init"), "--init so SIGTERM reaches the harness");
  assert.not.ok(args.includes("--rm"), "removed by lem after docker inspect, so OOM can be told apart");
  assert.equal(pairs(args, "--pull"), ["never"]);
  assert.equal(pairs(args, "--gpus"), ["all"]);
  assert.equal(pairs(args, "--shm-size"), ["8g"]);
  assert.equal(pairs(args, "-v"), ["/tmp/llem-x:/run/llem"]);
  assert.ok(pairs(args, "-e").includes("LEM_CONFIG_PATH=/run/llem/0123456789abcdef_config.json"));
  assert.ok(pairs(args, "-e").includes("LLEM_CONFIG_PATH=/run/llem/0123456789abcdef_config.json"), "the old name too, for an older harness in a docker:<image>");
  assert.ok(pairs(args, "--label").includes("org.llenergymeasure.managed=1"));
  assert.equal(pairs(args, "--name"), ["lem-0123456789abcdef-c1-ff00ff00"]);
  assert.equal(args.slice(-4), ["lem-pytorch:abc", "python3", "-m", "lem_harness"]);
});

test("GPUs: none adds no flag; a device list is one quoted CSV field", () => {
  assert.not.ok(dockerRunArgs(spec({ gpus: "none" })).includes("--gpus"));
  assert.equal(pairs(dockerRunArgs(spec({ gpus: "0,1" })), "--gpus"), ['"device=0,1"']);
});

test("memory limit, user, HF cache and cidfile are passed when set", () => {
  const args = dockerRunArgs(spec({ memory: "512m", user: "1000:1000", hfCache: "/root/.cache/huggingface", cidFile: "/tmp/s/cid" }));
  assert.equal(pairs(args, "--memory"), ["512m"]);
  assert.equal(pairs(args, "--memory-swap"), ["512m"]);
  assert.equal(pairs(args, "--user"), ["1000:1000"]);
  assert.ok(pairs(args, "-v").includes("/root/.cache/huggingface:/root/.cache/huggingface"));
  assert.equal(pairs(args, "--cidfile"), ["/tmp/s/cid"]);
});

test("HF_TOKEN goes through a 0600 env file, never argv", () => {
  const secrets = writeSecretsFile(["HF_TOKEN", "UNSET_SECRET"], { HF_TOKEN: "hf_secret_value" });
  try {
    assert.ok(secrets.path);
    assert.is(statSync(secrets.path!).mode & 0o777, 0o600);
    assert.is(statSync(secrets.dir).mode & 0o777, 0o700);
    assert.is(readFileSync(secrets.path!, "utf8"), "HF_TOKEN=hf_secret_value\n");
    const args = dockerRunArgs(spec({ envFile: secrets.path }));
    assert.not.ok(args.join(" ").includes("hf_secret_value"));
    assert.equal(pairs(args, "--env-file"), [secrets.path]);
  } finally {
    secrets.remove();
  }
  assert.not.ok(existsSync(secrets.dir));
  assert.is(writeSecretsFile(["HF_TOKEN"], {}).path, undefined, "no file when no secret is set");
});

test("container names come from the node hash and cycle", () => {
  assert.is(containerName("0123456789abcdef", 3, "ab12cd34"), "lem-0123456789abcdef-c3-ab12cd34");
});

const cases: [string, number | null, string, Record<string, boolean>, string][] = [
  ["missing image", 125, "docker: Error response from daemon: No such image: lem-nope:latest.", {}, "DockerImagePullError"],
  ["unpullable image", 125, "Unable to find image 'x:1' locally\ndocker: Error response from daemon: pull access denied for x", {}, "DockerImagePullError"],
  ["no NVIDIA runtime", 125, 'docker: Error response from daemon: could not select device driver "" with capabilities: [[gpu]].', {}, "DockerGPUAccessError"],
  ["OOM", 137, "", { oomKilled: true }, "DockerOOMError"],
  ["137 without OOMKilled", 137, "Killed", {}, "DockerContainerError"],
  ["timeout", 143, "", { timedOut: true }, "DockerTimeoutError"],
  ["socket permission", 1, "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock", {}, "DockerPermissionError"],
  ["daemon down", 1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?", {}, "DockerDaemonError"],
  ["exit 0 without a result", 0, "", {}, "DockerContainerError"],
  ["anything else", 3, "boom", {}, "DockerContainerError"],
];

for (const [what, code, stderr, state, type] of cases) {
  test(`error translation: ${what} → ${type}, with a fix and the stderr tail`, () => {
    const error = translateDockerError(code, stderr, "lem-nope:latest", state);
    assert.is(error.type, type);
    assert.ok(error.fix.length > 20, "every category carries a fix");
    assert.is(error.stderrTail, stderr.trimEnd());
    if (code === 0) assert.match(error.message, /exited 0 but wrote no result/);
  });
}

test("the stderr tail keeps the last 20 lines", () => {
  const long = Array.from({ length: 50 }, (_, i) => `line ${i}`).join("\n");
  const tailLines = translateDockerError(1, long, "x").stderrTail.split("\n");
  assert.is(tailLines.length, 20);
  assert.is(tailLines[19], "line 49");
});

const policy: HealthPolicy = { enabled: true, interval_experiments: 1, gpu_memory_threshold_pct: 90, restart_on_failure: true, max_restarts: 3, force_cold_start: false };
const healthy = { failed: false, interrupted: false, sinceCheck: 1, gpuMemoryPct: 10, restarts: 0 };

test("health check: restart after a failure, or when GPU memory stays in use past the threshold, up to max_restarts", () => {
  assert.is(restartReason(policy, healthy), undefined);
  assert.is(restartReason(policy, { ...healthy, failed: true }), "the experiment failed");
  assert.is(restartReason({ ...policy, restart_on_failure: false }, { ...healthy, failed: true }), undefined);
  assert.is(restartReason(policy, { ...healthy, gpuMemoryPct: 95 }), "GPU memory 95% in use (threshold 90%)");
  assert.is(restartReason(policy, { ...healthy, gpuMemoryPct: null }), undefined, "no GPU, nothing to read");
  assert.is(restartReason({ ...policy, interval_experiments: 3 }, { ...healthy, gpuMemoryPct: 95 }), undefined, "not due yet");
  assert.is(restartReason({ ...policy, enabled: false }, { ...healthy, gpuMemoryPct: 95 }), undefined);
  assert.is(restartReason(policy, { ...healthy, failed: true, restarts: 3 }), undefined, "max_restarts reached");
  assert.is(restartReason(policy, { ...healthy, failed: true, interrupted: true }), undefined, "an interrupt is not a failure");
});

test("cold start restarts after every node, whatever the count", () => {
  assert.match(restartReason({ ...policy, force_cold_start: true }, { ...healthy, restarts: 99 }) ?? "", /cold start/);
});

test("reaper: a container is an orphan only when its owner is provably gone, also after pid reuse", () => {
  const me = ownerLabels("run1");
  const start = me[LABEL.ownerStart];
  const boot = me[LABEL.ownerBoot];
  assert.ok(start && boot, "owner labels carry the process start time and boot id on Linux");
  const dead = spawnSync("true").pid!;
  const row = (name: string, pid: number | string, host: string, s = start, b = boot) => [name, String(pid), host, "", s, b].join("\t");
  const listing = [
    row("live", process.pid, hostname()),
    row("reused-pid", process.pid, hostname(), "1"),
    row("other-boot", process.pid, hostname(), start, "00000000-0000-0000-0000-000000000000"),
    row("dead-pid", dead, hostname()),
    row("old-labels", dead, hostname(), "", ""),
    row("other-host", dead, "elsewhere"),
    row("kept-up", 0, hostname()),
  ].join("\n");
  assert.equal(orphanRows(listing).map(([name]) => name), ["reused-pid", "other-boot", "dead-pid", "old-labels"]);
});

test.run();
