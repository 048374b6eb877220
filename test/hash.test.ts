import { test } from "uvu";
import * as assert from "uvu/assert";
import { measurementHash, HASH_VERSION } from "../src/config/hash.js";
import { canonicalJson } from "../src/config/canonical-json.js";
import { expandLemfile } from "../src/config/expand.js";
import { schemas } from "../src/config/schemas.js";
import { config } from "./helpers/fixtures.js";
import { LemError } from "../src/errors.js";

const hashOf = (lemfile: object) => expandLemfile(lemfile, "lemfile.ts").experiments.map((e) => e.hash);

test("canonical JSON sorts keys at every depth and rejects what JSON cannot hold", () => {
  assert.is(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
  for (const bad of [undefined, NaN, Infinity, () => 1, { a: undefined }]) {
    assert.throws(() => canonicalJson(bad));
  }
});

test("a hash is 16 hex digits and stable for the same config", () => {
  const h = measurementHash(config());
  assert.match(h, /^[0-9a-f]{16}$/);
  assert.is(measurementHash(config()), h);
});

test("key order in the lemfile never changes a hash", () => {
  const a = hashOf({ experiments: [{ model: "synthetic:tiny", backend: "pytorch", n: 4, pytorch: { batch_size: 2, device: "cpu" } }] });
  const b = hashOf({ experiments: [{ pytorch: { device: "cpu", batch_size: 2 }, n: 4, backend: "pytorch", model: "synthetic:tiny" }] });
  assert.equal(a, b);
});

test("runner, cycles, gaps, names and results_dir do not change a hash", () => {
  const exp = { model: "synthetic:tiny", backend: "pytorch" };
  const base = hashOf({ experiments: [{ name: "a", ...exp }] });
  assert.equal(hashOf({ experiments: [{ name: "other-name", ...exp }] }), base);
  assert.equal(hashOf({
    experiments: [{ name: "a", ...exp }], runners: { pytorch: "docker:img" }, results_dir: "elsewhere",
    execution: { cycles: 9, cycle_order: "shuffled", shuffle_seed: 3, experiment_gap_seconds: 5, cycle_gap_seconds: 60 },
  }), base);
});

test("defaults written out explicitly hash the same as defaults left implicit", () => {
  assert.equal(hashOf({ experiments: [{ model: "m", backend: "pytorch", n: 100, precision: "bf16", pytorch: { batch_size: 1 } }] }),
    hashOf({ experiments: [{ model: "m" }] }));
});

// Golden values: every stored result is keyed by these hashes. If one of these tests fails, the
// change would orphan every result anyone has measured: raise HASH_VERSION in src/config/hash.ts,
// note it in the README's hash section, and only then update the values below.
const ORPHANS = "this change would orphan every stored result: raise HASH_VERSION (src/config/hash.ts), note it in the README, then update this golden value";
const FIXED = {
  model: "synthetic:tiny", backend: "pytorch", n: 8, dataset: "synthetic", dataset_sha256: null, precision: "fp32", random_seed: 42,
  max_input_tokens: 64, max_output_tokens: 32,
  decoder: { temperature: 0, do_sample: true, top_k: 50, top_p: 1, repetition_penalty: 1, ignore_eos: true },
  warmup: { enabled: true, n_warmup: 2 }, baseline: { enabled: true, duration_seconds: 5 }, energy: { backend: "auto", sample_interval_ms: 100 },
  pytorch: { batch_size: 4, device: "cpu", attn_implementation: "sdpa", num_threads: null },
};

test("golden: the hash of a fixed, complete config is pinned (canonical JSON, sha256, hash_version)", () => {
  assert.is(HASH_VERSION, 1, ORPHANS);
  assert.is(measurementHash(FIXED as unknown as Parameters<typeof measurementHash>[0]), "5104eeb6268885e5", ORPHANS);
});

test("golden: the schema's defaults are pinned through the hash of a one-field experiment, per backend", () => {
  // A default that changes re-keys every experiment that left the field out.
  assert.equal(hashOf({ experiments: [{ model: "synthetic:tiny" }] }), ["3b88cf49b22ccc62"], ORPHANS);
  assert.equal(hashOf({ experiments: [{ model: "synthetic:tiny", backend: "vllm" }] }), ["0bea1fa0e1595bd9"], ORPHANS);
});

/** Every leaf of the experiment schema, with a second valid value for it. */
function measurementFields(): [string, unknown][] {
  const out: [string, unknown][] = [];
  const walk = (schema: Record<string, unknown>, prefix: string) => {
    for (const [key, sub] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (sub.properties) { walk(sub, path); continue; }
      out.push([path, otherValue(sub)]);
    }
  };
  walk(schemas.experiment as Record<string, unknown>, "");
  return out;
}

function otherValue(schema: Record<string, unknown>): unknown {
  if (Array.isArray(schema.anyOf)) return otherValue(schema.anyOf[0] as Record<string, unknown>);
  if (Array.isArray(schema.enum)) return schema.enum.find((v) => v !== schema.default);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (type === "boolean") return !schema.default;
  if (type === "integer") return typeof schema.default === "number" ? schema.default + 1 : 3;
  if (type === "number") {
    if (typeof schema.default !== "number") return 0.5;
    const up = schema.default + 0.25;
    return typeof schema.maximum === "number" && up > schema.maximum ? schema.default / 2 : up;
  }
  if (type === "string") return typeof schema.pattern === "string" && schema.pattern.includes("0-9a-f") ? "a".repeat(64) : "synthetic:other";
  throw new Error(`no alternative value for ${JSON.stringify(schema)}`);
}

test("every measurement field changes the hash", () => {
  const fields = measurementFields();
  assert.ok(fields.length >= 30, `expected the schema's leaves, got ${fields.length}`);
  for (const [path, value] of fields.filter(([p]) => p !== "dataset_sha256" && p !== "scenario")) { // set by lem; scenario: below
    const backend = path.startsWith("vllm.") || path === "backend" ? "vllm" : "pytorch";
    const base: Record<string, unknown> = { model: "synthetic:tiny", backend };
    if (path.startsWith("serving.")) Object.assign(base, { scenario: "serving", serving: { request_rate: 2 } });
    const changed = structuredClone(base);
    const keys = path.split(".");
    let cursor = changed;
    for (const k of keys.slice(0, -1)) cursor = (cursor[k] ??= {}) as Record<string, unknown>;
    cursor[keys[keys.length - 1]] = value;
    if (path === "backend") { base.backend = "pytorch"; changed.backend = "vllm"; }
    const [before] = hashOf({ experiments: [base] });
    const [after] = hashOf({ experiments: [changed] });
    assert.is.not(after, before, `changing ${path} to ${JSON.stringify(value)} must change the hash`);
  }
});

test("scenario serving changes the hash; written out at their off value, scenario and phase_split keep an offline config's hash", () => {
  const [offline] = hashOf({ experiments: [{ model: "synthetic:tiny" }] });
  assert.is.not(hashOf({ experiments: [{ model: "synthetic:tiny", scenario: "serving", serving: { request_rate: 2 } }] })[0], offline);
  assert.equal(hashOf({ experiments: [{ model: "synthetic:tiny", scenario: "offline" }] }), [offline]);
  assert.equal(hashOf({ experiments: [{ model: "synthetic:tiny", energy: { phase_split: false } }] }), [offline]);
});

test("a dataset file's contents change the hash; a missing file is an error naming the experiment and field", () => {
  const lemfile = { experiments: [{ name: "d", model: "m", dataset: "prompts.jsonl" }, { name: "s", model: "m" }] };
  const [v1] = expandLemfile(lemfile, "l.ts", () => "1".repeat(64)).experiments;
  const [v2] = expandLemfile(lemfile, "l.ts", () => "2".repeat(64)).experiments;
  assert.is(v1.config.dataset_sha256, "1".repeat(64));
  assert.is.not(v1.hash, v2.hash);
  const missing = (() => { try { expandLemfile(lemfile, "l.ts", () => undefined); } catch (e) { return e as LemError; } })();
  assert.instance(missing, LemError);
  assert.is(missing!.exitCode, 2);
  assert.match([missing!.message, ...missing!.notes].join("\n"), /"d"[^]*dataset: no such file "prompts.jsonl"/);
  const synthetic = expandLemfile({ experiments: [{ name: "s", model: "m" }] }, "l.ts", () => undefined);
  assert.is(synthetic.experiments[0].config.dataset_sha256, null, "synthetic prompts have no file");
});

test.run();
