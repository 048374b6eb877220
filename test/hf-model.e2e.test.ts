// A Hugging Face model measured end to end: a random-weight Llama with a tokenizer made in code,
// saved by the harness's hf_folder (no download), loaded by `model: <folder>` through
// from_pretrained, built by `lem build` with the local runner and in lem's Docker image.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TempProject } from "./helpers/project.js";
import { requireTransformers } from "./helpers/python.js";
import { requireDocker } from "./helpers/docker.js";
import { tempDir } from "./helpers/temp.js";
import { HARNESS_DIR, REQUIREMENTS_FILE } from "../src/paths.js";

const python = requireTransformers("hf-model.e2e.test.ts");
const MODEL = "models/tiny-llama";
const body = (runner: string, attn = "sdpa") => `{
  defaults: { model: "./${MODEL}", n: 4, max_input_tokens: 8, max_output_tokens: 6, precision: "fp32",
    warmup: { n_warmup: 1 }, baseline: { enabled: false } },
  experiments: [{ name: "hf-${attn}", pytorch: { batch_size: 2, attn_implementation: "${attn}", num_threads: 1 } }],
  runners: { pytorch: "${runner}" },
}`;
type Result = { tokens: { input: number; output: number }; effective_config: Record<string, string | number | null>;
  environment: Record<string, unknown>; throughput: { output_tokens_per_s: number } };
type Show = { config: { model: string }; results: Result[] };
const PINS = Object.fromEntries([...readFileSync(REQUIREMENTS_FILE, "utf8").matchAll(/^(torch|transformers)(?:\[\w+\])?==(\S+)$/gm)].map((m) => [m[1], m[2]]));

/** The same Python with every package but transformers: -S drops site-packages, PYTHONPATH gives back links to the rest. */
function pythonWithoutTransformers(): string {
  const dir = tempDir("lem-no-transformers-");
  const site = spawnSync(python!, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: "utf8" }).stdout.trim();
  mkdirSync(join(dir, "site"));
  for (const name of readdirSync(site)) if (!name.startsWith("transformers")) symlinkSync(join(site, name), join(dir, "site", name));
  const file = join(dir, "python-without-transformers");
  writeFileSync(file, `#!/bin/sh\nPYTHONPATH="${join(dir, "site")}:$PYTHONPATH" exec ${python} -S "$@"\n`, { mode: 0o755 });
  return file;
}

/** A project holding the model folder, made by the harness as a user would make one. */
function projectWithModel(runner: string, attn?: string, env: NodeJS.ProcessEnv = {}): TempProject {
  const project = new TempProject(body(runner, attn), env);
  const made = spawnSync(python!, ["-m", "lem_harness.models.hf_folder", join(project.dir, MODEL), "--preset", "tiny"],
    { encoding: "utf8", env: { ...process.env, PYTHONPATH: HARNESS_DIR }, timeout: 120_000 });
  assert.is(made.status, 0, made.stderr);
  return project;
}

/** The one stored result, after checking it is a transformers model's, measured with the pinned torch. */
async function measured(project: TempProject, name: string): Promise<Result> {
  const show = await project.json<Show>("show", name);
  assert.is(show.config.model, `./${MODEL}`);
  assert.is(show.results.length, 1);
  const result = show.results[0];
  assert.is(result.effective_config.model_source, "transformers AutoModelForCausalLM");
  assert.is(String(result.effective_config.torch_version).split("+")[0], PINS.torch);
  // The harness drives generation to exactly max_output_tokens (ignore_eos by default).
  assert.is(result.tokens.output, 4 * 6);
  assert.ok(result.tokens.input > 0);
  assert.ok(result.throughput.output_tokens_per_s > 0);
  return result;
}

if (python) {
  test("local runner: lem build measures the folder through from_pretrained, with SDPA and eager", async () => {
    for (const attn of ["sdpa", "eager"]) {
      const project = projectWithModel("local", attn, { LEM_PYTHON: python });
      const build = await project.json<{ summary: { ran: number; failed: number } }>("build");
      assert.equal([build.summary.ran, build.summary.failed], [1, 0], JSON.stringify(build));
      const result = await measured(project, `hf-${attn}`);
      assert.is(result.effective_config.attn_implementation, attn);
      assert.is(result.effective_config.runner_type ?? "local", "local");
      // Built once, measured once: a second build has nothing to do.
      const again = await project.json<{ summary: { ran: number; cached: number } }>("build");
      assert.equal([again.summary.ran, again.summary.cached], [0, 1]);
    }
  });

  test("a Python without transformers is refused before any node, naming the model and the fix", async () => {
    const project = projectWithModel("local", "sdpa", { LEM_PYTHON: pythonWithoutTransformers() });
    const r = await project.run("build");
    assert.is(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /needs transformers for \.\/models\/tiny-llama, and .*python-without-transformers \(LEM_PYTHON\) has none/);
    assert.match(r.stderr, /fix: install transformers for .*requirements\.txt/);
    assert.equal(project.resultFiles(), []);
  });

  const docker = requireDocker("hf-model.e2e.test.ts");
  if (docker) {
    test("docker runner: the same folder in lem's image, which has the same pinned torch and transformers", async () => {
      const project = projectWithModel("docker", "sdpa", { LEM_PYTHON: python });
      const r = await project.run("build", "--json", "--container-strategy", "ephemeral", "--yes");
      assert.is(r.code, 0, r.stdout + r.stderr);
      const result = await measured(project, "hf-sdpa");
      assert.is(result.effective_config.runner_type, "docker");
      assert.is(result.effective_config.attn_implementation, "sdpa");
    });
  }
}

test.run();
