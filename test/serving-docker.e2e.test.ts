// Serving in containers (issue 20 §2): with both Docker strategies, the serving nodes of one engine
// config share one `transformers serve` started once inside a container (ephemeral: a container of
// the key's own; persistent: the backend's service), and nothing is left when the build ends, or
// when lem is SIGKILLed mid-load (the ephemeral server container exits with lem's pipe).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { TempProject } from "./helpers/project.js";
import { requireDocker, dockerPs } from "./helpers/docker.js";
import { requirePython } from "./helpers/python.js";

const FILE = "serving-docker.e2e.test.ts";
const docker = requireDocker(FILE);
const python = requirePython(FILE); // lem builds the image's wheelhouse with it

interface Result { hash: string; cycle: number; config: { serving: { engine: { num_blocks: number } } };
  effective_config: { runner_type: string }; environment: { container_id: string };
  serving: { completed: number; server: { shared?: boolean; reused?: boolean; key?: string; started_by?: { hash: string; cycle: number } } } }

const base = `{ model: "synthetic:tiny", scenario: "serving", precision: "fp32", max_input_tokens: 16, max_output_tokens: 6,
    baseline: { enabled: false }, energy: { backend: "none" }, pytorch: { device: "cpu", num_threads: 1 },
    serving: { request_rate: 8, num_requests: 6, warmup_requests: 1, engine: { num_blocks: 16 } } }`;
const sweepBody = `{
  defaults: ${base},
  experiments: sweep("s", { "serving.engine.num_blocks": [16, 24], "serving.request_rate": [8, "inf"] }),
  runners: { pytorch: "docker" },
}`;

const results = (p: TempProject): Result[] => p.resultFiles().map((f) => JSON.parse(readFileSync(join(p.dir, "results", f), "utf8")) as Result);

/** lem's containers that are running now. */
function running(): string[] {
  const r = spawnSync("docker", ["ps", "--filter", "label=org.llenergymeasure.managed=1", "--format", "{{.Names}}"], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean);
}

if (docker && python) {
  for (const strategy of ["ephemeral", "persistent"]) {
    test(`${strategy}: 2 rates × 2 engine configs, one server start per engine config inside the container, nothing left`, async () => {
      const p = new TempProject(sweepBody);
      const r = await p.run("build", "--json", "--container-strategy", strategy, "--yes");
      assert.is(r.code, 0, r.stdout + r.stderr);
      const all = results(p);
      assert.is(all.length, 4);
      const byBlocks = new Map<number, Result[]>();
      for (const result of all) {
        assert.is(result.effective_config.runner_type, strategy === "ephemeral" ? "docker" : "persistent");
        assert.is(result.serving.completed, 6);
        assert.is(result.serving.server.shared, true, "the server came from the registry in the container");
        const list = byBlocks.get(result.config.serving.engine.num_blocks) ?? [];
        byBlocks.set(result.config.serving.engine.num_blocks, [...list, result]);
      }
      for (const [blocks, list] of byBlocks) {
        const starters = list.filter((x) => x.serving.server.reused === false);
        assert.is(starters.length, 1, `one server start for num_blocks ${blocks}`);
        assert.is(list.filter((x) => x.serving.server.reused === true).length, 1, "the other load point reused it");
        // The nodes of one key ran in one container.
        assert.is(new Set(list.map((x) => x.environment.container_id)).size, 1, "one container per engine config");
      }
      if (strategy === "ephemeral") {
        const ids = [...byBlocks.values()].map((list) => list[0].environment.container_id);
        assert.is(new Set(ids).size, 2, "each engine config had a container of its own");
      }
      assert.equal(dockerPs(), [], "no container left");
      const again = await p.json<{ summary: { ran: number; cached: number } }>("build", "--container-strategy", strategy, "--yes");
      assert.equal([again.summary.ran, again.summary.cached], [0, 4], "a rebuild runs nothing");
    });
  }

  test("ephemeral: a SIGKILLed lem's server container exits with it; the next build removes it", async () => {
    const p = new TempProject(`{
  defaults: ${base.replace("request_rate: 8, num_requests: 6", "request_rate: 2, num_requests: 40")},
  experiments: [{ name: "slow" }],
  runners: { pytorch: "docker" },
}`);
    const run = p.run("build");
    const deadline = Date.now() + 300_000;
    let server: string | undefined;
    while (Date.now() < deadline && !server) {
      server = running().find((n) => n.startsWith("lem-srv-"));
      if (!server) await sleep(250);
    }
    assert.ok(server, "the server container started");
    // Until the shared server is registered inside it (then the load runs for ~20 s).
    while (Date.now() < deadline && spawnSync("docker", ["exec", server!, "sh", "-c", "ls /tmp/lem-servers-lane0/server-*.json"], { stdio: "ignore" }).status !== 0) await sleep(500);
    run.child.kill("SIGKILL");
    await run;
    const gone = Date.now() + 30_000;
    while (Date.now() < gone && running().includes(server!)) await sleep(250);
    assert.not.ok(running().includes(server!), "the server container outlived a SIGKILLed lem");
    const next = await p.run("build", "--dry-run");
    assert.is(next.code, 0, next.stderr);
    const build = await p.run("build");
    assert.is(build.code, 0, build.stdout + build.stderr);
    assert.match(build.stdout + build.stderr, /left by a killed lem/);
    assert.equal(dockerPs(), [], "the reaper removed it");
  });
}

test.run();
