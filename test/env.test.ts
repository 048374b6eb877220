// One env prefix: lem's variables are LEM_*, and the two once named LLEM_* (the harness's
// CONFIG_PATH and PARENT_PID) keep that name as an alias. The rule lives in src/env.ts and in
// docker/harness/lem_harness/env.py (tested by the harness's own tests, test_protocol.EnvAliasTest).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { harnessEnv, lemEnv } from "../src/env.js";
import { dockerRunArgs } from "../src/exec/docker/command.js";
import { jobScript } from "../src/exec/slurm/slurm-runner.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

test("a reader takes LEM_<NAME> first, then its old name LLEM_<NAME>; empty is unset", () => {
  assert.is(lemEnv("CONFIG_PATH", { LEM_CONFIG_PATH: "/a", LLEM_CONFIG_PATH: "/b" }), "/a");
  assert.is(lemEnv("CONFIG_PATH", { LLEM_CONFIG_PATH: "/b" }), "/b");
  assert.is(lemEnv("CONFIG_PATH", { LEM_CONFIG_PATH: "", LLEM_CONFIG_PATH: "/b" }), "/b");
  assert.is(lemEnv("PARENT_PID", {}), undefined);
});

test("a writer sets both names, so a harness older than the rename still finds its config", () => {
  assert.equal(harnessEnv({ CONFIG_PATH: "/x/h_config.json", PARENT_PID: "42" }), {
    LEM_CONFIG_PATH: "/x/h_config.json", LLEM_CONFIG_PATH: "/x/h_config.json", LEM_PARENT_PID: "42", LLEM_PARENT_PID: "42",
  });
  assert.equal(harnessEnv({ CONFIG_PATH: "/c", PARENT_PID: undefined }), { LEM_CONFIG_PATH: "/c", LLEM_CONFIG_PATH: "/c" });
});

test("the docker and Slurm runners write both names (the local runner's are read by the fault suites' fake harness)", () => {
  const args = dockerRunArgs({
    image: "lem-pytorch:abc", name: "n", exchangeDir: "/tmp/llem-x", configFile: "h_config.json", labels: {},
    gpus: "none", shmSize: "8g", env: {}, command: ["python3", "-m", "lem_harness"],
  });
  for (const name of ["LEM_CONFIG_PATH", "LLEM_CONFIG_PATH"]) assert.ok(args.includes(`${name}=/run/llem/h_config.json`), name);
  const script = jobScript({ sbatch_args: [], python: "python3", shared_dir: ".lem/slurm", poll_max_seconds: 5, max_jobs: 100, arrays: true },
    { dir: "/shared/llem-1", configFile: "h_config.json", resultFile: "h_result.json", errorFile: "h_error.json" }, "/pkg/harness");
  for (const name of ["LEM_CONFIG_PATH", "LLEM_CONFIG_PATH"]) assert.match(script, new RegExp(`export ${name}='/shared/llem-1/h_config.json'`));
});

const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? (e.name === "__pycache__" ? [] : walk(join(dir, e.name))) : [join(dir, e.name)]);

test("the alias rule lives in one place per language: no other source names an LLEM_ variable", () => {
  const sources = [...walk(join(ROOT, "src")).filter((f) => f.endsWith(".ts")), ...walk(join(ROOT, "docker", "harness", "lem_harness")).filter((f) => f.endsWith(".py"))];
  assert.ok(sources.length > 50, `found the sources (${sources.length})`);
  const naming = sources.filter((f) => /\bLLEM_[A-Z]/.test(readFileSync(f, "utf8"))).map((f) => relative(ROOT, f));
  // The harness names the old variable once in a message that says it still works.
  assert.equal(naming.sort(), ["docker/harness/lem_harness/env.py", "docker/harness/lem_harness/protocol.py", "src/env.ts"]);
});

test.run();
