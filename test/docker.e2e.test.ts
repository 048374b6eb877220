// The Docker runners against a real engine: every error category provoked for real, secrets,
// interrupts and reaping. Uses a tiny image whose fake harness misbehaves on request
// (test/fixtures/fake-harness); the real harness in containers is in containers.e2e.test.ts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync, chmodSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { TempProject, lem } from "./helpers/project.js";
import { requireDocker, dockerPs } from "./helpers/docker.js";
import { tempDir } from "./helpers/temp.js";

const FAKE = "lem-test/fake-harness:latest";
const ready = requireDocker("docker.e2e.test.ts") && buildFake();

function buildFake(): boolean {
  const dir = fileURLToPath(new URL("./fixtures/fake-harness/", import.meta.url));
  const r = spawnSync("docker", ["build", "-q", "-t", FAKE, dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cannot build ${FAKE}: ${r.stderr}`);
  return true;
}

type BuildJson = { nodes: { name: string; state: string; error?: { type: string; message: string; fix?: string; stderrTail?: string; exchangeDir?: string } }[] };

function fakeProject(behaviour: string, extra = "", settings = "") {
  const project = new TempProject(`{
    experiments: [{ name: "${behaviour}", model: "fake:${behaviour}" }],
    runners: { pytorch: "docker:${FAKE}" }, ${extra}
  }`);
  if (settings) writeFileSync(join(project.dir, ".lem-config.yaml"), settings);
  return project;
}

async function failure(behaviour: string, settings = "", env: NodeJS.ProcessEnv = {}) {
  const project = fakeProject(behaviour, "", settings);
  const r = await lem(project.dir, ["build", "--json"], env);
  assert.is(r.code, 1, `exit code 1 for a failed node:\n${r.stdout}\n${r.stderr}`);
  const node = (JSON.parse(r.stdout) as BuildJson).nodes[0];
  assert.is(node.state, "failed");
  return { project, error: node.error! };
}

/** The failed node kept its exchange dir, holding the config it was given; removed when the file ends. */
function assertKept(error: { exchangeDir?: string }) {
  assert.ok(error.exchangeDir && existsSync(error.exchangeDir), `the exchange dir is kept on failure: ${error.exchangeDir}`);
  kept.push(error.exchangeDir!);
  const config = readdirSync(error.exchangeDir!).find((f) => f.endsWith("_config.json"));
  assert.ok(config, "the kept dir holds the node's config");
  assert.match(readFileSync(join(error.exchangeDir!, config!), "utf8"), /"model": ?"fake:[a-z0-9]+"/, "the config is the node's own");
}
const kept: string[] = [];
process.on("exit", () => { for (const dir of kept) rmSync(dir, { recursive: true, force: true }); });

/** A docker CLI for LEM_DOCKER: passes everything to docker, but runs `onRun` (bash) for `docker run`. */
function dockerWrapper(onRun: string): string {
  const bin = tempDir();
  writeFileSync(join(bin, "docker"), `#!/bin/bash\nif [ "$1" = run ]; then ${onRun}; fi\nexec docker "$@"\n`);
  chmodSync(join(bin, "docker"), 0o755);
  return join(bin, "docker");
}

if (ready) {
  test("a missing docker:<image> is refused before any node: exit 2, the fix, no exchange dir", async () => {
    const tmp = tempDir("lem-tmp-");
    const project = new TempProject(`{ experiments: [{ name: "x", model: "fake:exit0" }], runners: { pytorch: "docker:lem-test/does-not-exist:1" } }`, { TMPDIR: tmp });
    const r = await project.run("build", "--json");
    assert.is(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /image lem-test\/does-not-exist:1 \(runner docker:lem-test\/does-not-exist:1 for pytorch\) does not exist on this host, and lem never pulls/);
    assert.match(r.stderr, /fix: build or load lem-test\/does-not-exist:1 first/);
    assert.equal(readdirSync(tmp), [], "no exchange dir");
    assert.is(project.resultFiles().length, 0);
  });

  test("an image gone by the time its node runs is DockerImagePullError, with the fix and a kept exchange dir", async () => {
    const swap = `args=(); for a in "$@"; do [ "$a" = "${FAKE}" ] && a=lem-test/gone:1; args+=("$a"); done; exec docker "\${args[@]}"`;
    const { error } = await failure("exit0", "", { LEM_DOCKER: dockerWrapper(swap) });
    assert.is(error.type, "DockerImagePullError");
    assert.match(error.fix!, /build the image first .*lem never pulls/);
    assert.match(error.stderrTail!, /No such image/i);
    assertKept(error);
  });

  test("the daemon going away mid-build is DockerDaemonError, with the fix and a kept exchange dir", async () => {
    const down = `echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1`;
    const { error } = await failure("exit0", "", { LEM_DOCKER: dockerWrapper(down) });
    assert.is(error.type, "DockerDaemonError");
    assert.match(error.fix!, /start Docker .*docker info/);
    assertKept(error);
  });

  test("GPUs requested without the NVIDIA runtime is DockerGPUAccessError, with the fix and a kept exchange dir", async () => {
    const { error } = await failure("exit0", "docker:\n  gpus: all\n");
    assert.is(error.type, "DockerGPUAccessError");
    assert.match(error.fix!, /install the NVIDIA Container Toolkit and restart dockerd, or set docker.gpus: none/);
    assert.match(error.stderrTail!, /could not select device driver/);
    assertKept(error);
  });

  test("running out of memory under a small limit is DockerOOMError, with the fix and a kept exchange dir", async () => {
    const { error } = await failure("oom", "docker:\n  memory: 64m\n");
    assert.is(error.type, "DockerOOMError");
    assert.match(error.fix!, /ran out of memory: lower pytorch.batch_size or n.*raise the memory limit/);
    assertKept(error);
  });

  test("a node past its timeout is DockerTimeoutError, with the fix and a kept exchange dir, and its container is gone", async () => {
    const { error } = await failure("sleep", "timeout_seconds: 2\n");
    assert.is(error.type, "DockerTimeoutError");
    assert.match(error.fix!, /raise timeout_seconds in \.lem-config\.yaml/);
    assertKept(error);
    assert.equal(dockerPs(), []);
  });

  test("exit 0 without a result file is DockerContainerError, with the fix and a kept exchange dir", async () => {
    const { error } = await failure("exit0");
    assert.is(error.type, "DockerContainerError");
    assert.match(error.message, /exited 0 but wrote no result/);
    assert.match(error.fix!, /harness log in the kept exchange dir/);
    assertKept(error);
  });

  test("a harness error payload becomes the node's error; the traceback stays in the kept dir", async () => {
    const { error } = await failure("error");
    assert.equal([error.type, error.message], ["ModelLoadError", "fake failure from the harness"]);
    assertKept(error);
    const payload = readdirSync(error.exchangeDir!).find((f) => f.endsWith("_error.json"))!;
    assert.match(readFileSync(join(error.exchangeDir!, payload), "utf8"), /Traceback/);
  });

  test("HF_TOKEN reaches the container and appears nowhere else: not in argv, results, logs or kept dirs", async () => {
    const token = `hf_${Math.random().toString(36).slice(2)}${Date.now()}`;
    // A docker wrapper that records every argv lem passes to docker.
    const bin = tempDir();
    const argvLog = join(bin, "argv.log");
    writeFileSync(join(bin, "docker"), `#!/bin/sh\necho "$@" >> ${argvLog}\nexec docker "$@"\n`);
    chmodSync(join(bin, "docker"), 0o755);
    const project = fakeProject("token");
    const env = { HF_TOKEN: token, LEM_DOCKER: join(bin, "docker") };
    const r = await lem(project.dir, ["build", "--json"], env);
    const node = (JSON.parse(r.stdout) as BuildJson).nodes[0];
    assert.match(node.error!.message, /HF_TOKEN reached the container/);
    const haystacks = [r.stdout, r.stderr, readFileSync(argvLog, "utf8"), ...filesUnder(node.error!.exchangeDir!), ...filesUnder(join(project.dir, "results"))];
    assert.ok(readFileSync(argvLog, "utf8").includes("--env-file"));
    for (const text of haystacks) assert.not.ok(text.includes(token), "the token leaked");
  });

  test("LEM_DOCKER is the only docker lem calls: doctor, status and build all go through it", async () => {
    const real = spawnSync("sh", ["-c", "command -v docker"], { encoding: "utf8" }).stdout.trim();
    const bin = tempDir();
    const viaLem = join(bin, "via-lem-docker.log");
    const viaPath = join(bin, "via-path.log");
    // `docker` on PATH still works (so a stray call cannot hide as a failure) but is logged apart.
    writeFileSync(join(bin, "docker"), `#!/bin/sh\necho "$@" >> ${viaPath}\nexec ${real} "$@"\n`);
    writeFileSync(join(bin, "lem-docker"), `#!/bin/sh\necho "$@" >> ${viaLem}\nexec ${real} "$@"\n`);
    for (const f of ["docker", "lem-docker"]) chmodSync(join(bin, f), 0o755);
    const project = fakeProject("ok");
    const env = { LEM_DOCKER: join(bin, "lem-docker"), PATH: `${bin}:${process.env.PATH}` };
    const doctor = await lem(project.dir, ["doctor", "--json"], env);
    assert.ok((JSON.parse(doctor.stdout) as { checks: { name: string; ok: boolean }[] }).checks.find((c) => c.name === "docker")?.ok, doctor.stdout);
    assert.is((await lem(project.dir, ["status"], env)).code, 0);
    const build = await lem(project.dir, ["build", "--json"], env);
    assert.is(build.code, 0, build.stdout + build.stderr);
    const calls = readFileSync(viaLem, "utf8");
    for (const call of [/^version/m, /^info/m, /^compose version/m, /^image inspect --format \{\{\.Id\}\} lem-test\/fake-harness/m, /^run --init/m]) assert.match(calls, call);
    assert.not.ok(existsSync(viaPath), `docker called past LEM_DOCKER:\n${existsSync(viaPath) ? readFileSync(viaPath, "utf8") : ""}`);
  });

  test("Ctrl-C during a containerised build leaves no container and exits 130", async () => {
    const project = fakeProject("sleep");
    const run = project.run("build");
    for (let i = 0; i < 100 && dockerPs().length === 0; i++) await sleep(100);
    assert.is(dockerPs().length, 1, "the node's container is running");
    run.child.kill("SIGINT");
    const r = await run;
    assert.is(r.code, 130, r.stdout + r.stderr);
    assert.equal(dockerPs(), []);
    assert.is(project.resultFiles().length, 0);
  });

  test("persistent mode warns and, without a terminal or --yes, exits 2 saying to pass --yes", async () => {
    const project = fakeProject("ok");
    const r = await project.run("build", "--container-strategy", "persistent");
    assert.is(r.code, 2);
    assert.match(r.stderr, /Persistent container mode/);
    assert.match(r.stderr, /pass --yes/);
    assert.equal(dockerPs(), []);
  });

  test(".lem-config.yaml picks the strategy; --container-strategy overrides it", async () => {
    const project = fakeProject("ok", "", "docker:\n  strategy: persistent\n");
    const viaConfig = await project.run("build", "--yes");
    assert.is(viaConfig.code, 0, viaConfig.stdout + viaConfig.stderr);
    const show = await project.json<{ results: { effective_config: { runner_type: string } }[] }>("show", "ok");
    assert.is(show.results[0].effective_config.runner_type, "persistent");
    const viaCli = await project.json<{ summary: { ran: number } }>("build", "--force", "--container-strategy", "ephemeral");
    assert.is(viaCli.summary.ran, 1);
    const again = await project.json<{ results: { effective_config: { runner_type: string } }[] }>("show", "ok");
    assert.is(again.results[0].effective_config.runner_type, "docker");
    assert.equal(dockerPs(), []);
  });

  test("auto_teardown: false leaves the services up and prints the command that stops them", async () => {
    const project = fakeProject("ok", "", "docker:\n  strategy: persistent\n  auto_teardown: false\n");
    const r = await project.run("build", "--yes");
    assert.is(r.code, 0, r.stdout + r.stderr);
    const down = /stop them with: (.+)$/m.exec(r.stdout)?.[1];
    assert.ok(down, `no teardown hint in:\n${r.stdout}`);
    assert.is(dockerPs().length, 1, "the service is still running");
    const stopped = spawnSync("sh", ["-c", down!], { encoding: "utf8" });
    assert.is(stopped.status, 0, stopped.stderr);
    assert.equal(dockerPs(), []);
  });

  for (const version of ["v2", "v1"]) {
    const bin = version === "v2" ? ["docker", "compose", "version"] : ["docker-compose", "version"];
    if (spawnSync(bin[0], bin.slice(1), { stdio: "ignore" }).status !== 0) {
      if (process.env.LEM_REQUIRE_DOCKER === "1") throw new Error(`Compose ${version} is not installed, and LEM_REQUIRE_DOCKER=1`);
      console.warn(`\n!! SKIPPING the Compose ${version} test: ${bin.join(" ")} does not answer\n`);
      test.skip(`persistent containers work with Compose ${version}: up, one exec per node, down`, () => {});
      continue;
    }
    test(`persistent containers work with Compose ${version}: up, one exec per node, down`, async () => {
      const project = new TempProject(`{
        experiments: sweep("n", { random_seed: [1, 2, 3] }, { model: "fake:ok" }),
        runners: { pytorch: "docker:${FAKE}" },
      }`, { LEM_COMPOSE: version });
      const r = await project.json<{ summary: { ran: number } }>("build", "--container-strategy", "persistent", "--yes");
      assert.is(r.summary.ran, 3);
      const show = await project.json<{ results: { effective_config: { runner_type: string }; environment: { container_id: string } }[] }>("show", "n-1");
      assert.is(show.results[0].effective_config.runner_type, "persistent");
      assert.match(show.results[0].environment.container_id, /^[0-9a-f]{12,64}$/);
      assert.equal(dockerPs(), []);
    });
  }

  test("persistent: a failed node restarts its service; force_cold_start restarts it after every node", async () => {
    const failing = new TempProject(`{ experiments: [{ name: "bad", model: "fake:error" }, { name: "good", model: "fake:ok" }],
      runners: { pytorch: "docker:${FAKE}" } }`);
    const r1 = await failing.run("build", "--container-strategy", "persistent", "--yes", "--keep-going");
    assert.is(r1.code, 1);
    assert.match(r1.stdout, /warning: pytorch service restarted: the experiment failed/);
    assert.match(r1.stdout, /done\s+good #1/);
    const cold = new TempProject(`{ experiments: sweep("n", { random_seed: [1, 2] }, { model: "fake:ok" }), runners: { pytorch: "docker:${FAKE}" } }`);
    writeFileSync(join(cold.dir, ".lem-config.yaml"), "docker:\n  cold_start:\n    force_cold_start: true\n");
    const r2 = await cold.run("build", "--container-strategy", "persistent", "--yes");
    assert.is(r2.code, 0, r2.stdout + r2.stderr);
    assert.is((r2.stdout.match(/restarted: cold start/g) ?? []).length, 2);
    assert.equal(dockerPs(), []);
  });

  test("the containers of a SIGKILLed lem are reaped by the next run", async () => {
    const project = fakeProject("sleep");
    const run = project.run("build");
    for (let i = 0; i < 100 && dockerPs().length === 0; i++) await sleep(100);
    assert.is(dockerPs().length, 1);
    run.child.kill("SIGKILL");
    await run;
    await sleep(300);
    assert.is(dockerPs().length, 1, "the container outlives the killed lem");
    const next = fakeProject("exit0");
    const r = await next.run("build");
    assert.match(r.stdout, /removed 1 container\(s\) left by a killed lem/);
    assert.equal(dockerPs(), []);
  });
}

/** The text of every file under dir. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => readFileSync(join(d.parentPath ?? d.path, d.name), "utf8"));
}

test.run();
