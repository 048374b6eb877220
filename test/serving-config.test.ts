// scenario "serving" in the lemfile: a hashed serving section with the schema's defaults, refused
// without its scenario (and the scenario without it); offline configs keep their hashes (hash.test.ts).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { sweep } from "../src/index.js";
import { expandLemfile } from "../src/config/expand.js";
import { inputErrorOf } from "./helpers/errors.js";

const expand = (experiments: Record<string, unknown>[]) =>
  expandLemfile({ defaults: { model: "synthetic:tiny" }, experiments } as Parameters<typeof expandLemfile>[0], "lemfile.ts").experiments;


test("a serving experiment gets the schema's serving defaults, and each field is part of its hash", () => {
  const [e] = expand([{ name: "s", scenario: "serving", serving: { request_rate: 4 } }]);
  assert.equal(e.config.serving, {
    request_rate: 4, burstiness: 1, max_concurrency: null, num_requests: 100, warmup_requests: 8,
    engine: { num_blocks: 256, block_size: 32, max_batch_tokens: null },
  });
  const [busier] = expand([{ name: "s", scenario: "serving", serving: { request_rate: 8 } }]);
  assert.is.not(busier.hash, e.hash);
  const [offline] = expand([{ name: "o" }]);
  assert.is(offline.config.scenario, undefined, "offline stays absent: stored hashes do not move");
  assert.is(offline.config.serving, undefined);
});

test("request rate sweeps are ordinary sweeps, \"inf\" included", () => {
  const points = expand(sweep("rate", { "serving.request_rate": [1, 2, "inf"] }, { scenario: "serving", serving: { request_rate: 1 } }));
  assert.equal(points.map((p) => p.config.serving?.request_rate), [1, 2, "inf"]);
  assert.is(new Set(points.map((p) => p.hash)).size, 3);
});

test("serving without its scenario, the scenario without serving, and a bad rate are errors naming the field", () => {
  assert.match(inputErrorOf(() => expand([{ name: "a", serving: { request_rate: 2 } }])), /serving/);
  assert.match(inputErrorOf(() => expand([{ name: "b", scenario: "serving" }])), /serving/);
  assert.match(inputErrorOf(() => expand([{ name: "c", scenario: "serving", serving: { request_rate: 0 } }])), /request_rate/);
  assert.match(inputErrorOf(() => expand([{ name: "d", scenario: "serving", serving: { request_rate: "fast" } }])), /request_rate/);
  assert.match(inputErrorOf(() => expand([{ name: "e", scenario: "serving", serving: { request_rate: 2, engine: { num_blocks: 0 } } }])), /num_blocks/);
});

test.run();
