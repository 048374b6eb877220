// The example workflow is valid to GitHub's own parser, and lem matrix's output has what it uses.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { parseWorkflow, convertWorkflowTemplate, NoOperationTraceWriter } from "@actions/workflow-parser";
import { parse as parseYaml } from "yaml";
import { fakeProject } from "./faults/helpers.js";

const WORKFLOW = new URL("../examples/github-actions.yml", import.meta.url);
const content = readFileSync(WORKFLOW, "utf8");

test("examples/github-actions.yml parses with @actions/workflow-parser: plan, measure, merge", async () => {
  const parsed = parseWorkflow({ name: "github-actions.yml", content }, new NoOperationTraceWriter());
  assert.equal(parsed.context.errors.getErrors().map((e) => e.message), []);
  const template = await convertWorkflowTemplate(parsed.context, parsed.value!);
  assert.equal(template.errors ?? [], []);
  assert.equal(template.jobs.map((j) => String(j.id)), ["plan", "measure", "merge"]);
});

test("the parser does catch a broken workflow (so the test above can fail)", () => {
  const broken = content.replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    bogus-key: 1");
  const parsed = parseWorkflow({ name: "broken.yml", content: broken }, new NoOperationTraceWriter());
  assert.ok(parsed.context.errors.getErrors().length > 0);
});

test("the workflow uses what lem matrix prints: shard, hashes, name (lem-shard-*), matrix_jobs", async () => {
  const wf = parseYaml(content) as { jobs: Record<string, { strategy?: { "fail-fast": boolean; matrix: string }; steps: { run?: string; with?: Record<string, string> }[] }> };
  assert.is(wf.jobs.measure.strategy!["fail-fast"], false);
  assert.match(wf.jobs.measure.strategy!.matrix, /fromJSON\(needs\.plan\.outputs\.matrix\)/);
  const runs = Object.values(wf.jobs).flatMap((j) => j.steps.map((s) => s.run ?? "")).join("\n");
  assert.match(runs, /lem build --shard "\$\{\{ matrix\.shard \}\}" --shard-hashes "\$\{\{ matrix\.hashes \}\}"/);
  assert.match(runs, /lem import shards\/\*/);

  const project = fakeProject(`{ experiments: sweep("s", { random_seed: [1, 2, 3, 4, 5] }, { model: "fake:ok" }) }`);
  const m = await project.run("matrix", "--max-jobs", "2");
  assert.is(m.code, 0, m.stderr);
  const { include } = JSON.parse(m.stdout) as { include: Record<string, unknown>[] };
  assert.is(include.length, 2);
  for (const entry of include) {
    assert.type(entry.shard, "string");
    assert.type(entry.hashes, "string");
    assert.match(String(entry.name), /^lem-shard-[0-9]+-of-[0-9]+$/, "matches the merge job's download pattern");
  }
  const gitlab = await project.run("matrix", "--max-jobs", "2", "--format", "gitlab");
  assert.is(gitlab.code, 0, gitlab.stderr);
  const pipeline = parseYaml(gitlab.stdout) as Record<string, { parallel?: { matrix: { LEM_SHARD: string[] }[] } }>;
  assert.equal(pipeline["lem-shard"].parallel!.matrix[0].LEM_SHARD, ["1/2", "2/2"]);
});

test("an empty plan is an empty matrix a workflow can test for", async () => {
  const project = fakeProject(`{ experiments: [{ name: "a", model: "fake:ok" }] }`);
  assert.is((await project.run("build")).code, 0);
  const m = await project.run("matrix");
  assert.is(m.code, 0, m.stderr);
  assert.equal(JSON.parse(m.stdout), { include: [] });
});

test("examples/gitlab-ci.yml: plan → child pipeline of the hidden jobs + lem's YAML; every extends resolves", async () => {
  const parent = parseYaml(readFileSync(new URL("../examples/gitlab-ci.yml", import.meta.url), "utf8")) as Record<string, { stage?: string; script?: string[]; trigger?: { include: { artifact: string; job: string }[] } }>;
  assert.equal(parent.stages, ["plan", "measure"] as unknown);
  assert.ok(parent["lem-plan"].script!.some((l) => /lem matrix --format gitlab/.test(l)));
  assert.equal(parent["lem-measure"].trigger!.include, [{ artifact: "child.yml", job: "lem-plan" }]);

  const templates = readFileSync(new URL("../examples/gitlab-lem-jobs.yml", import.meta.url), "utf8");
  const project = fakeProject(`{ experiments: sweep("s", { random_seed: [1, 2, 3] }, { model: "fake:ok" }) }`);
  const m = await project.run("matrix", "--format", "gitlab", "--max-jobs", "3");
  assert.is(m.code, 0, m.stderr);
  // What the plan job writes: `cat examples/gitlab-lem-jobs.yml matrix.yml > child.yml`.
  const child = parseYaml(`${templates}\n${m.stdout}`) as Record<string, { extends?: string; stage?: string; script?: string[]; parallel?: { matrix: { LEM_SHARD: string[] }[] } }> & { variables: Record<string, string>; stages: string[] };
  for (const [name, job] of Object.entries(child)) {
    if (job && typeof job === "object" && "extends" in job) assert.ok(child[job.extends!], `${name} extends ${job.extends}, which the child defines`);
  }
  const shards = child["lem-shard"].parallel!.matrix[0].LEM_SHARD;
  assert.equal(shards, ["1/3", "2/3", "3/3"]);
  for (const shard of shards) assert.match(child.variables[`LEM_SHARD_HASHES_${shard.split("/")[0]}`], /^[0-9a-f]{16}$/);
  assert.ok(child.stages.includes(child[".lem-shard"].stage!) && child.stages.includes(child[".lem-merge"].stage!));
  assert.ok(child[".lem-shard"].script!.some((l) => l.includes('--shard-hashes "$hashes"')));
});

test.run();
