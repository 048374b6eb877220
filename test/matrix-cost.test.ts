// The cost model's parameter counts are the harness's own: one fact, checked across TS and Python.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SYNTHETIC_PARAMS, modelParams } from "../src/graph/cost-model.js";

const HARNESS = fileURLToPath(new URL("../docker/harness/", import.meta.url));

test("SYNTHETIC_PARAMS matches presets.py's n_params for every synthetic preset", () => {
  const python = process.env.LEM_PYTHON ?? "python3";
  const r = spawnSync(python, ["-c", "import json; from lem_harness.models.presets import PRESETS; print(json.dumps({k: p.n_params for k, p in PRESETS.items()}))"], { cwd: HARNESS, encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
  assert.equal(SYNTHETIC_PARAMS, JSON.parse(r.stdout));
});

test("model sizes are read off names, else 1B", () => {
  assert.is(modelParams("synthetic:8b"), SYNTHETIC_PARAMS["8b"]);
  assert.is(modelParams("meta-llama/Llama-3.2-1B"), 1e9);
  assert.is(modelParams("Qwen/Qwen2.5-0.5B"), 0.5e9);
  assert.is(modelParams("facebook/opt-350m"), 350e6);
  assert.is(modelParams("some/model"), 1e9);
});

test.run();
