// The validators lem ships are generated from schemas/ at build time (scripts/generate-validators.ts).
// They must be current, be the ones lem uses, and judge exactly as ajv compiling the schemas would.
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as generated from "../src/config/validators.generated.js";
import { validators, schemas } from "../src/config/schemas.js";
import { readSchemas } from "../src/config/schema-files.js";
import { compileValidators, type SchemaName } from "../src/config/schema-compiler.js";
import { fakeResult, config } from "./helpers/fixtures.js";

const compiled = compileValidators(schemas);

test("the generated validators were made from the schemas as they are now, and lem uses them", () => {
  assert.is((generated as Record<string, unknown>).SCHEMA_DIGEST, readSchemas().digest, "run `npm run build` after editing schemas/");
  for (const name of ["experiment", "result", "userConfig", "lemfile", "storeConfig"] as SchemaName[]) {
    assert.is(validators[name], (generated as unknown as Record<SchemaName, unknown>)[name], name);
  }
});

const node = { hash: "0123456789abcdef", cycle: 1, names: ["a"], config: config(), hardware: "cpu:test" };
const CASES: [SchemaName, unknown][] = [
  ["experiment", { model: "synthetic:tiny" }],
  ["experiment", { model: "synthetic:tiny", backend: "pytorch", precision: "fp7" }],
  ["experiment", { model: "synthetic:tiny", pytorch: { batch: 2 }, n: "eight" }],
  ["experiment", { model: "", n: -1, decoder: { temperature: "hot" } }],
  ["experiment", { model: "Qwen/Qwen2.5-0.5B", backend: "vllm", vllm: { engine: { tensor_parallel_size: 2 } } }],
  ["experiment", {}],
  ["result", fakeResult(node)],
  ["result", { ...fakeResult(node), started_at: "yesterday" }],
  ["result", { ...fakeResult(node), finished_at: "2026-12-02T10:00:00Z" }],
  ["result", { ...fakeResult(node), energy: { status: "measured" } }],
  ["userConfig", {}],
  ["userConfig", { results_dir: "elsewhere", jobs: 0, docker: { strategy: "sometimes" } }],
  ["userConfig", { runners: { pytorch: "docker" }, typo: true }],
  ["lemfile", { experiments: [] }],
  ["lemfile", { experiments: [{ name: "a" }], cycles: 3 }],
  ["lemfile", { experiments: "none", execution: { cycles: 0 } }],
];

test("generated and compiled validators agree on verdicts, errors and the defaults they fill in", () => {
  for (const [name, value] of CASES) {
    const a = structuredClone(value);
    const b = structuredClone(value);
    const okGenerated = validators[name](a);
    const okCompiled = compiled[name](b);
    const label = `${name}: ${JSON.stringify(value).slice(0, 80)}`;
    assert.is(okGenerated, okCompiled, label);
    assert.equal(validators[name].errors ?? null, compiled[name].errors ?? null, label);
    assert.equal(a, b, `defaults applied alike: ${label}`);
  }
  assert.ok(CASES.some(([name, value]) => !validators[name](structuredClone(value))), "the corpus has invalid cases");
  assert.ok(CASES.some(([name, value]) => validators[name](structuredClone(value))), "and valid ones");
});

test("a date-time is checked (the lazily loaded format)", () => {
  assert.is(validators.result({ ...fakeResult(node), started_at: "2026-12-02T10:00:00Z" }), true);
  assert.is(validators.result({ ...fakeResult(node), started_at: "2026-13-45 soon" }), false);
  assert.match(JSON.stringify(validators.result.errors), /date-time/);
});

test.run();
