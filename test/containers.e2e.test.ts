// The real harness in containers, with both strategies: lem builds the CPU image offline on
// first use (a few minutes once), runs a tiny sweep, and leaves no container or exchange dir.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { TempProject } from "./helpers/project.js";
import { requireDocker, dockerPs } from "./helpers/docker.js";
import { requirePython } from "./helpers/python.js";

const docker = requireDocker("containers.e2e.test.ts");
const python = requirePython("containers.e2e.test.ts");
const body = (runner: string) => `{
  defaults: { model: "synthetic:tiny", n: 4, max_input_tokens: 8, max_output_tokens: 8, precision: "fp32",
    warmup: { n_warmup: 1 }, baseline: { enabled: false } },
  experiments: sweep("bs", { "pytorch.batch_size": [1, 2] }),
  execution: { cycles: 2 },
  runners: { pytorch: "${runner}" },
}`;

type Result = Record<string, unknown> & { effective_config: Record<string, unknown>; environment: Record<string, unknown>; energy: Record<string, unknown> };
type Show = { results: Result[] };
const exchangeDirs = () => readdirSync(tmpdir()).filter((f) => /^llem-/.test(f)).sort();
const shape = (r: Result) => ({ top: Object.keys(r).sort(), energy: Object.keys(r.energy).sort() });

if (docker && python) {
  let localShape: ReturnType<typeof shape>;

  test("reference: the same sweep on the local runner", async () => {
    const local = new TempProject(body("local"), { LEM_PYTHON: python });
    assert.is((await local.run("build")).code, 0);
    localShape = shape((await local.json<Show>("show", "bs-2")).results[0]);
  });

  for (const strategy of ["ephemeral", "persistent"]) {
    test(`${strategy} containers: the sweep builds, results have the local runner's shape, nothing is left behind`, async () => {
      const before = exchangeDirs();
      const project = new TempProject(body("docker"));
      const r = await project.run("build", "--json", "--container-strategy", strategy, "--yes");
      assert.is(r.code, 0, r.stdout + r.stderr);
      const build = JSON.parse(r.stdout) as { summary: { ran: number }; images: { tag: string; digest: string }[] };
      assert.is(build.summary.ran, 4);
      assert.match(build.images[0].tag, /^lem-pytorch:[0-9a-f]{12}$/);
      assert.match(build.images[0].digest, /^sha256:[0-9a-f]{64}$/);
      const { results } = await project.json<Show>("show", "bs-2");
      assert.is(results.length, 2);
      for (const result of results) {
        assert.equal(shape(result), localShape, "same fields as a local result");
        assert.is(result.effective_config.runner_type, strategy === "ephemeral" ? "docker" : "persistent");
        assert.is(result.effective_config.image_digest, build.images[0].digest);
        assert.match(String(result.environment.container_id), /^[0-9a-f]{64}$/);
        assert.is(result.environment.in_container, true);
      }
      assert.equal(dockerPs(), [], "no container left");
      assert.equal(exchangeDirs(), before, "no exchange dir left");
      const again = await project.json<{ summary: { ran: number; cached: number } }>("build", "--container-strategy", strategy, "--yes");
      assert.equal([again.summary.ran, again.summary.cached], [0, 4]);
    });
  }

  test("the example lemfile.ts builds in containers with both strategies", async () => {
    const example = readFileSync(fileURLToPath(new URL("../lemfile.ts", import.meta.url)), "utf8");
    for (const strategy of ["ephemeral", "persistent"]) {
      const project = new TempProject("{ experiments: [] }", { LEM_RUNNER_PYTORCH: "docker" }); // env beats the lemfile's "local"
      project.writeRaw(example);
      const r = await project.run("build", "--json", "--container-strategy", strategy, "--yes");
      assert.is(r.code, 0, r.stdout + r.stderr);
      const build = JSON.parse(r.stdout) as { nodes: unknown[]; summary: { ran: number; failed: number } };
      assert.equal([build.summary.ran, build.summary.failed], [build.nodes.length, 0]);
      assert.ok(build.nodes.length >= 8);
      assert.equal(dockerPs(), []);
    }
  });

  test("lem status shows the image each backend runs in, with its digest", async () => {
    const project = new TempProject(body("docker"));
    const status = await project.json<{ images: { backend: string; tag: string; digest: string | null }[] }>("status");
    assert.is(status.images[0].backend, "pytorch");
    assert.match(String(status.images[0].digest), /^sha256:/);
  });
}

test.run();
