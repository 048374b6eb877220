// Valid inputs at the edges: each must be accepted (exit 0), plan the names it should, and leave
// the measured results as they were.
import * as assert from "uvu/assert";
import { runCorpus, withExperiment, withExperiments, VALID_BODY, type Case } from "./corpus.js";
import type { RunResult } from "../helpers/project.js";

/** The node names `status --json` / `build --dry-run --json` printed, once each, in order. */
const names = (r: RunResult) => [...new Set((JSON.parse(r.stdout) as { nodes: { name: string }[] }).nodes.map((n) => n.name))];
const plansNames = (...expected: string[]) => (r: RunResult) => assert.equal(names(r), expected);
const COMBINATION = `sweep("c", { "pytorch.batch_size": [1, 2], precision: ["fp32", "bf16"] }, {}, OPTIONS).map((p) => p.name === "c-2-bf16" ? { ...p, pytorch: { batch_size: -2 } } : p)`;

const cases: Case[] = [
  { name: "the valid project itself", args: ["status", "--json"], expect: { code: 0, check: plansNames("kept") } },
  { name: "unicode names", body: withExperiment(`{ name: "café-模型", precision: "bf16" }, ...sweep("ü", { model: ["Ω/x"] })`), args: ["status", "--json"],
    expect: { code: 0, check: plansNames("kept", "café-模型", "ü-Ω_x") } },
  { name: "a sweep over Hugging Face model ids", body: withExperiments(`sweep("m", { model: ["meta-llama/Llama-3.2-1B", "Qwen/Qwen2.5-0.5B"] })`), args: ["build", "--dry-run", "--json"],
    expect: { code: 0, check: plansNames("m-meta-llama_Llama-3.2-1B", "m-Qwen_Qwen2.5-0.5B") } },
  { name: "a sweep over synthetic presets", body: withExperiments(`sweep("s", { model: ["synthetic:tiny", "synthetic:small"] })`), args: ["status", "--json"],
    expect: { code: 0, check: plansNames("s-synthetic_tiny", "s-synthetic_small") } },
  { name: "a sweep over dataset paths", body: withExperiments(`sweep("d", { dataset: ["data/a.jsonl", "b.jsonl", "synthetic"] })`),
    files: { "data/a.jsonl": `{"prompt": "a"}\n`, "b.jsonl": `{"prompt": "b"}\n` }, args: ["status", "--json"],
    expect: { code: 0, check: plansNames("d-data_a.jsonl", "d-b.jsonl", "d-synthetic") } },
  { name: "values that read alike after sanitising stay apart", body: withExperiments(`sweep("m", { model: ["org/x", "org:x"] })`), args: ["status", "--json"],
    expect: { code: 0, check: (r) => { const n = names(r); assert.is(n.length, 2); for (const name of n) assert.match(name, /^m-org_x_[0-9a-f]{6}$/); } } },
  { name: "a sweep over decimals and negatives", body: withExperiments(`sweep("t", { "decoder.temperature": [0, 0.5], "vllm.sampling.presence_penalty": [-1] }, { backend: "vllm" })`), args: ["status", "--json"],
    expect: { code: 0, check: plansNames("t-0--1", "t-0.5--1") } },
  { name: "null where the schema allows it", body: withExperiment(`{ name: "n", pytorch: { num_threads: null } }, { name: "v", backend: "vllm", vllm: { engine: { max_model_len: null }, sampling: { min_tokens: null } } }`),
    args: ["status", "--json"], expect: { code: 0, check: plansNames("kept", "n", "v") } },
  { name: "empty defaults", body: `{ defaults: {}, experiments: [{ name: "a", model: "m" }] }`, args: ["status", "--json"], expect: { code: 0, check: plansNames("a") } },
  { name: "no defaults, no execution", body: `{ experiments: [{ model: "m" }] }`, args: ["status", "--json"],
    expect: { code: 0, check: (r) => assert.match(names(r)[0], /^exp-[0-9a-f]{8}$/) } },
  { name: "a field set to undefined means not set", body: withExperiment(`{ name: "u", precision: undefined, n: 3 }`), args: ["status", "--json"],
    expect: { code: 0, check: plansNames("kept", "u") } },
  { name: "the same entry twice is one node", body: withExperiment(`{ name: "kept", precision: "fp32" }`), args: ["status", "--json"],
    expect: { code: 0, check: (r) => assert.is((JSON.parse(r.stdout) as { nodes: unknown[] }).nodes.length, 2, "kept × 2 cycles") } },
  { name: "the cycle limit itself", body: withExperiments(`[{ name: "a" }]`, "{ cycles: 10000 }"), args: ["status", "--json"],
    expect: { code: 0, check: (r) => assert.is((JSON.parse(r.stdout) as { nodes: unknown[] }).nodes.length, 10000) } },
  { name: "sweep(..., { skip_invalid: true }) skips a combination point, by name", body: withExperiments(COMBINATION.replace("OPTIONS", "{ skip_invalid: true }")), args: ["status", "--json"],
    expect: { code: 0, stderr: [/warning: skipped sweep point "c-2-bf16": pytorch\.batch_size: must be >= 1, got -2/], check: plansNames("c-1-fp32", "c-1-bf16", "c-2-fp32") } },
  { name: "--skip-invalid skips a combination point, by name", body: withExperiments(COMBINATION.replace("OPTIONS", "{}")), args: ["build", "--dry-run", "--skip-invalid"],
    expect: { code: 0, stderr: [/warning: skipped sweep point "c-2-bf16"/], stdout: [/c-1-fp32/, /c-2-fp32/], check: (r) => assert.not.match(r.stdout, /c-2-bf16/) } },
  { name: "a lemfile that prints keeps --json stdout clean", source: `import { defineLemfile } from "llenergymeasure";\nconsole.log("hello from the lemfile");\nexport default defineLemfile(${VALID_BODY});\n`,
    args: ["status", "--json"], expect: { code: 0, stderr: [/hello from the lemfile/], check: plansNames("kept") } },
  { name: "--jobs 2", args: ["build", "--jobs", "2", "--dry-run"], expect: { code: 0, stdout: [/cached\s+kept #1/] } },
  { name: "--jobs 2 with nothing left to measure: no node can share the machine", args: ["build", "--jobs", "2"], expect: { code: 0, stdout: [/0 ran, 2 cached/] } },
  { name: "settings: jobs 2 and an empty docker section", files: { ".lem-config.yaml": "jobs: 2\ndocker: {}\n" }, args: ["status"], expect: { code: 0, stdout: [/2 done/] } },
  { name: "settings: an empty file", files: { ".lem-config.yaml": "" }, args: ["status"], expect: { code: 0, stdout: [/2 done/] } },
  { name: "settings: comments only", files: { ".lem-config.yaml": "# nothing set yet\n" }, args: ["status"], expect: { code: 0, stdout: [/2 done/] } },
  { name: "results_dir that does not exist yet", body: `{ ...${VALID_BODY}, results_dir: "elsewhere/results" }`, args: ["status", "--json"],
    expect: { code: 0, check: (r) => assert.ok((JSON.parse(r.stdout) as { nodes: { state: string }[] }).nodes.every((n) => n.state === "pending")) } },
];

runCorpus("accepted edge inputs", cases);
