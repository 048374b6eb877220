import { test } from "uvu";
import * as assert from "uvu/assert";
import { resolveRunner, resolveRunners, resolveStrategy } from "../src/config/runner-resolution.js";
import { loadUserConfig } from "../src/config/user-config.js";
import { LemError } from "../src/errors.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./helpers/temp.js";

const user = (runners = {}) => ({ ...loadUserConfig(tempDir()), runners });

test("runner precedence: CLI > LEM_RUNNER_<BACKEND> > lemfile > .lem-config.yaml > auto", () => {
  const all = { cli: "local", env: { LEM_RUNNER_PYTORCH: "docker:env-img" }, lemfile: { pytorch: "docker:lemfile-img" as const }, user: user({ pytorch: "docker:user-img" }), auto: () => "docker" as const };
  assert.equal(resolveRunner("pytorch", all), { spec: "local", source: "cli" });
  assert.equal(resolveRunner("pytorch", { ...all, cli: undefined }), { spec: "docker:env-img", source: "env:LEM_RUNNER_PYTORCH" });
  assert.equal(resolveRunner("pytorch", { ...all, cli: undefined, env: {} }), { spec: "docker:lemfile-img", source: "lemfile" });
  assert.equal(resolveRunner("pytorch", { ...all, cli: undefined, env: {}, lemfile: {} }), { spec: "docker:user-img", source: ".lem-config.yaml" });
  assert.equal(resolveRunner("pytorch", { ...all, cli: undefined, env: {}, lemfile: {}, user: user() }), { spec: "docker", source: "auto" });
});

test("the env var is per backend", () => {
  const r = resolveRunner("vllm", { env: { LEM_RUNNER_PYTORCH: "local", LEM_RUNNER_VLLM: "docker" }, lemfile: {}, user: user(), auto: () => "local" });
  assert.equal(r, { spec: "docker", source: "env:LEM_RUNNER_VLLM" });
});

test("an invalid runner value is an input error naming its source", () => {
  try {
    resolveRunner("pytorch", { env: { LEM_RUNNER_PYTORCH: "kubernetes" }, lemfile: {}, user: user(), auto: () => "local" });
    assert.unreachable();
  } catch (error) {
    assert.instance(error, LemError);
    assert.match((error as LemError).message, /env:LEM_RUNNER_PYTORCH: runner "kubernetes"/);
  }
});

test("auto asks the Docker daemon once for all backends, and never when nothing is auto", async () => {
  let asked = 0;
  const daemon = async () => { asked += 1; return true; };
  const both = await resolveRunners(["pytorch", "vllm"], { env: {}, lemfile: {}, user: user() }, daemon);
  assert.equal([...both.values()].map((r) => r.spec), ["docker", "docker"]);
  assert.is(asked, 1);
  const pinned = await resolveRunners(["pytorch"], { cli: "local", env: {}, lemfile: {}, user: user() }, daemon);
  assert.equal(pinned.get("pytorch"), { spec: "local", source: "cli" });
  assert.is(asked, 1);
  const bad = await resolveRunners(["pytorch"], { cli: "k8s", env: {}, lemfile: {}, user: user() }, daemon).catch((e: LemError) => e);
  assert.instance(bad, LemError);
  assert.ok((bad as LemError).exitCode === 2 && /--runner: expected local, docker or slurm, got "k8s"/.test((bad as LemError).message));
});

test("container strategy: --container-strategy > .lem-config.yaml > ephemeral; a bad flag names itself", () => {
  const persistent = { ...user(), docker: { ...user().docker, strategy: "persistent" as const } };
  assert.is(resolveStrategy(undefined, user()), "ephemeral");
  assert.is(resolveStrategy(undefined, persistent), "persistent");
  assert.is(resolveStrategy("ephemeral", persistent), "ephemeral");
  assert.throws(() => resolveStrategy("sometimes", user()), (e: LemError) => e.exitCode === 2 && /--container-strategy: expected ephemeral or persistent/.test(e.message));
});

test(".lem-config.yaml: defaults applied, bad values and bad YAML are input errors with the file", () => {
  const dir = tempDir();
  assert.equal(loadUserConfig(dir).docker.strategy, "ephemeral");
  writeFileSync(join(dir, ".lem-config.yaml"), "docker:\n  strategy: persistent\n  auto_teardown: false\n");
  assert.equal([loadUserConfig(dir).docker.strategy, loadUserConfig(dir).docker.auto_teardown], ["persistent", false]);
  writeFileSync(join(dir, ".lem-config.yaml"), "docker:\n  strategy: sometimes\n");
  assert.throws(() => loadUserConfig(dir), (e: LemError) => e.exitCode === 2 && e.message.includes(".lem-config.yaml") && e.notes.join().includes("docker.strategy: expected one of"));
  writeFileSync(join(dir, ".lem-config.yaml"), "docker: [\n");
  assert.throws(() => loadUserConfig(dir), (e: LemError) => e.exitCode === 2 && /not valid YAML/.test(e.message));
});

test.run();
