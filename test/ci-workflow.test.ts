// The example workflow is valid to GitHub's own parser, and lem matrix's output has what it uses.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseWorkflow, convertWorkflowTemplate, NoOperationTraceWriter } from "@actions/workflow-parser";
import { parse as parseYaml } from "yaml";
import { fakeProject } from "./faults/helpers.js";
import { tempDir } from "./helpers/temp.js";

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

type Workflow = { jobs: Record<string, { if?: string; outputs?: Record<string, string>; strategy?: { "fail-fast": boolean; matrix: string }; steps: { id?: string; run?: string; with?: Record<string, string> }[] }> };

/** An empty $GITHUB_OUTPUT file, as a GitHub Actions step gets one. */
function githubOutput(): string {
  const file = join(tempDir(), "github_output");
  writeFileSync(file, "");
  return file;
}

/** The NAME=value lines lem matrix appended to $GITHUB_OUTPUT. */
const outputs = (file: string) => Object.fromEntries(readFileSync(file, "utf8").trimEnd().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));

test("the workflow uses what lem matrix prints: shard, hashes, name (lem-shard-*), matrix_jobs", async () => {
  const wf = parseYaml(content) as Workflow;
  assert.is(wf.jobs.measure.strategy!["fail-fast"], false);
  // The plan job's step runs `lem matrix --github-output matrix`; the job's outputs read matrix and matrix_jobs from that step.
  const planStep = wf.jobs.plan.steps.find((s) => /lem matrix .*--github-output matrix\b/.test(s.run ?? ""));
  assert.ok(planStep?.id, "the plan job has a step with an id that runs lem matrix --github-output matrix");
  assert.equal(wf.jobs.plan.outputs, { matrix: `\${{ steps.${planStep!.id}.outputs.matrix }}`, jobs: `\${{ steps.${planStep!.id}.outputs.matrix_jobs }}` });
  for (const job of ["measure", "merge"]) assert.match(wf.jobs[job].if ?? "", /needs\.plan\.outputs\.jobs != '0'/, `${job} is skipped on an empty plan`);
  assert.match(wf.jobs.measure.strategy!.matrix, /fromJSON\(needs\.plan\.outputs\.matrix\)/);
  const runs = Object.values(wf.jobs).flatMap((j) => j.steps.map((s) => s.run ?? "")).join("\n");
  assert.match(runs, /lem build --shard "\$\{\{ matrix\.shard \}\}" --shard-hashes "\$\{\{ matrix\.hashes \}\}"/);
  assert.match(runs, /lem import shards\/\*/);

  const body = `{ experiments: sweep("s", { random_seed: [1, 2, 3, 4, 5] }, { model: "fake:ok" }) }`;
  const file = githubOutput();
  const project = fakeProject(body, { GITHUB_OUTPUT: file });
  const m = await project.run("matrix", "--max-jobs", "2");
  assert.is(m.code, 0, m.stderr);
  const { include } = JSON.parse(m.stdout) as { include: Record<string, unknown>[] };
  assert.is(include.length, 2);
  for (const entry of include) {
    assert.type(entry.shard, "string");
    assert.type(entry.hashes, "string");
    assert.match(String(entry.name), /^lem-shard-[0-9]+-of-[0-9]+$/, "matches the merge job's download pattern");
  }

  // --github-output: the same matrix, as NAME=<one line of JSON> and NAME_jobs=<shards>, appended to $GITHUB_OUTPUT; nothing on stdout.
  const written = await project.run("matrix", "--max-jobs", "2", "--github-output", "matrix");
  assert.is(written.code, 0, written.stderr);
  assert.is(written.stdout, "");
  assert.match(written.stderr, /wrote matrix and matrix_jobs to \$GITHUB_OUTPUT/);
  assert.equal(outputs(file), { matrix: m.stdout.trim(), matrix_jobs: "2" });
  assert.is(readFileSync(file, "utf8").split("\n").length, 3, "two lines, each ending in a newline");
  const unset = await fakeProject(body, { GITHUB_OUTPUT: "" }).run("matrix", "--github-output", "matrix");
  assert.is(unset.code, 2, "outside a GitHub step ($GITHUB_OUTPUT unset) it is refused");
  assert.match(unset.stderr, /GITHUB_OUTPUT is not set/);

  const gitlab = await project.run("matrix", "--max-jobs", "2", "--format", "gitlab");
  assert.is(gitlab.code, 0, gitlab.stderr);
  const pipeline = parseYaml(gitlab.stdout) as Record<string, { parallel?: { matrix: { LEM_SHARD: string[] }[] } }>;
  assert.equal(pipeline["lem-shard"].parallel!.matrix[0].LEM_SHARD, ["1/2", "2/2"]);
});

test("an empty plan is an empty matrix a workflow can test for: matrix_jobs=0", async () => {
  const file = githubOutput();
  const project = fakeProject(`{ experiments: [{ name: "a", model: "fake:ok" }] }`, { GITHUB_OUTPUT: file });
  assert.is((await project.run("build")).code, 0);
  const m = await project.run("matrix");
  assert.is(m.code, 0, m.stderr);
  assert.equal(JSON.parse(m.stdout), { include: [] });
  const written = await project.run("matrix", "--github-output", "matrix");
  assert.is(written.code, 0, written.stderr);
  assert.equal(outputs(file), { matrix: '{"include":[]}', matrix_jobs: "0" }, "what the workflow's `jobs != '0'` guard reads");
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
