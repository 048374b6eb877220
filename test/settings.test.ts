// One precedence for every layered setting (flag > env > lemfile > .lem-config.yaml > default),
// and the source of each value.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveSetting, findSetting, SETTING_LAYERS } from "../src/config/settings.js";
import { loadUserConfig, userLayers } from "../src/config/user-config.js";
import { tempDir } from "./helpers/temp.js";
import { TempProject } from "./helpers/project.js";

test("the highest layer that gives a value wins, and says so", () => {
  assert.equal(SETTING_LAYERS, ["cli", "env", "lemfile", "user", "default"]);
  const all = {
    cli: { value: 4, source: "--jobs" }, env: { value: 3, source: "env:LEM_JOBS" }, lemfile: { value: 2, source: "lemfile" },
    user: { value: 5, source: ".lem-config.yaml: jobs" }, default: { value: 1, source: "default" },
  };
  assert.equal(resolveSetting(all), { value: 4, source: "--jobs" });
  assert.equal(resolveSetting({ ...all, cli: { value: undefined, source: "--jobs" } }), { value: 3, source: "env:LEM_JOBS" });
  // An empty environment variable is as good as unset.
  assert.equal(resolveSetting({ ...all, cli: undefined, env: { value: "" as unknown as number, source: "env:LEM_JOBS" } }), { value: 2, source: "lemfile" });
  assert.equal(resolveSetting({ user: all.user, default: all.default }), { value: 5, source: ".lem-config.yaml: jobs" });
  assert.equal(resolveSetting({ default: all.default }), { value: 1, source: "default" });
  assert.is(findSetting({ cli: { value: undefined, source: "--x" } }), undefined);
});

test(".lem-config.yaml is the source only of what the file gives; the rest is the default", () => {
  const root = tempDir();
  writeFileSync(join(root, ".lem-config.yaml"), "jobs: 2\ndocker:\n  strategy: persistent\n");
  const user = loadUserConfig(root);
  assert.equal(userLayers(user, "jobs").user, { value: 2, source: ".lem-config.yaml: jobs" });
  assert.equal(resolveSetting(userLayers<string>(user, "docker.strategy")), { value: "persistent", source: ".lem-config.yaml: docker.strategy" });
  assert.equal(resolveSetting(userLayers<string>(user, "results_dir")), { value: user.results_dir, source: "default" });
  assert.equal(resolveSetting(userLayers<number>(user, "docker.warmup_delay")).source, "default");
  const bare = loadUserConfig(tempDir());
  assert.equal(resolveSetting(userLayers<number>(bare, "jobs")), { value: 1, source: "default" });
});

type Settings = Record<string, { value: unknown; source: string }>;

test("lem status --json and lem doctor --json say where each setting came from", async () => {
  const project = new TempProject(`{ experiments: [{ name: "a", model: "synthetic:tiny", n: 2 }] }`, { LEM_RUNNER_PYTORCH: "local", LEM_PYTHON: "/usr/bin/python3" });
  writeFileSync(join(project.dir, ".lem-config.yaml"), "jobs: 1\ndocker:\n  strategy: persistent\n");
  const status = await project.json<{ settings: Settings }>("status");
  assert.equal(status.settings["runner.pytorch"], { value: "local", source: "env:LEM_RUNNER_PYTORCH" });
  assert.equal(status.settings.jobs, { value: 1, source: ".lem-config.yaml: jobs" });
  assert.equal(status.settings.container_strategy, { value: "persistent", source: ".lem-config.yaml: docker.strategy" });
  assert.equal(status.settings.gpus, { value: null, source: "default" });
  assert.equal(status.settings.python, { value: "/usr/bin/python3", source: "env:LEM_PYTHON" });
  assert.equal(status.settings.results_dir, { value: join(project.dir, "results"), source: "default" });
  assert.is(status.settings.hardware.source, "detected");
  const elsewhere = await project.json<{ settings: Settings }>("status", "--hardware", "gpu:NVIDIA H100 80GB HBM3");
  assert.equal(elsewhere.settings.hardware, { value: "gpu:NVIDIA H100 80GB HBM3 x1", source: "--hardware" });
  const doctor = JSON.parse((await project.run("doctor", "--json")).stdout) as { settings: Settings };
  assert.equal(doctor.settings.python, { value: "/usr/bin/python3", source: "env:LEM_PYTHON" });
  assert.equal(doctor.settings.container_strategy, { value: "persistent", source: ".lem-config.yaml: docker.strategy" });
});

test.run();
