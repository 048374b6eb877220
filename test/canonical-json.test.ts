// The fast canonical JSON must write exactly what the first implementation wrote: every stored
// result is keyed by a hash of it. The reference below is that implementation, kept verbatim.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { canonicalJson } from "../src/config/canonical-json.js";
import { measurementHash, HASH_VERSION } from "../src/config/hash.js";
import { expandLemfile } from "../src/config/expand.js";

function referenceCanonicalJson(value: unknown, path = "$"): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`${path}: ${value} cannot be hashed (not a finite number)`);
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map((item, i) => referenceCanonicalJson(item, `${path}[${i}]`)).join(",")}]`;
      const keys = Object.keys(value).sort();
      const parts = keys.map((key) => `${JSON.stringify(key)}:${referenceCanonicalJson((value as Record<string, unknown>)[key], `${path}.${key}`)}`);
      return `{${parts.join(",")}}`;
    }
    default:
      throw new TypeError(`${path}: a ${typeof value} cannot be hashed`);
  }
}

// A small seeded generator (mulberry32), so a failure is reproducible.
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUMBERS = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789012345680000, 5e-324, Number.MAX_SAFE_INTEGER, -2.5, 3.14159];
const STRINGS = ["", "a", "Z", "é", "日本", "\u0000", "\"quoted\"", "back\\slash", "line\nbreak", "\ud83d\ude00", "\ud800", "fp32"];
const KEYS = ["a", "b", "B", "_", "aa", "a.b", "é", "Z", "10", "2", "", "model", "pytorch", "\ud83d\ude00"];

function value(next: () => number, depth: number): unknown {
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)];
  const kind = depth > 3 ? Math.floor(next() * 4) : Math.floor(next() * 6);
  switch (kind) {
    case 0: return pick(NUMBERS) * (next() < 0.5 ? 1 : Math.floor(next() * 1000));
    case 1: return pick(STRINGS);
    case 2: return next() < 0.5;
    case 3: return null;
    case 4: return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1));
    default: return Object.fromEntries(Array.from({ length: Math.floor(next() * 5) }, () => [pick(KEYS), value(next, depth + 1)]));
  }
}

test("writes exactly what the first implementation wrote, on 20,000 random values", () => {
  const next = random(20251202);
  for (let i = 0; i < 20_000; i++) {
    const v = value(next, 0);
    assert.is(canonicalJson(v), referenceCanonicalJson(v), `value ${i}: ${JSON.stringify(v)}`);
  }
});

test("hashes of expanded lemfile configs are those of the first implementation", () => {
  const { experiments } = expandLemfile({
    defaults: { model: "synthetic:tiny", backend: "pytorch", n: 8 },
    experiments: [
      { name: "one", precision: "bf16", decoder: { temperature: 0.7, top_p: 0.9 }, pytorch: { batch_size: 4 } },
      { name: "v", model: "Qwen/Qwen2.5-0.5B", backend: "vllm", vllm: { engine: { tensor_parallel_size: 1 } } },
      ...Array.from({ length: 50 }, (_, i) => ({ name: `s${i}`, random_seed: i, max_output_tokens: 1 + i })),
    ],
  }, "lemfile.ts");
  assert.ok(experiments.length >= 52);
  for (const e of experiments) {
    const old = createHash("sha256").update(referenceCanonicalJson({ hash_version: HASH_VERSION, config: e.config })).digest("hex").slice(0, 16);
    assert.is(measurementHash(e.config), old, e.names.join(","));
  }
});

test("what JSON cannot hold is refused with its path, as before", () => {
  const cases: [unknown, string][] = [
    [{ a: { b: [1, NaN] } }, "$.a.b[1]: NaN cannot be hashed (not a finite number)"],
    [{ z: 1, a: Infinity }, "$.a: Infinity cannot be hashed (not a finite number)"],
    [{ a: undefined }, "$.a: a undefined cannot be hashed"],
    [[() => 1], "$[0]: a function cannot be hashed"],
    [{ n: 3n }, "$.n: a bigint cannot be hashed"],
    [Symbol("s"), "$: a symbol cannot be hashed"],
  ];
  for (const [bad, message] of cases) {
    assert.throws(() => referenceCanonicalJson(bad), (e: Error) => e.message === message, `reference: ${message}`);
    assert.throws(() => canonicalJson(bad), (e: Error) => e instanceof TypeError && e.message === message, message);
  }
});

test.run();
