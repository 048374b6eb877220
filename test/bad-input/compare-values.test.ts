// lem compare on stored values that are legal JSON but no sane measurement (issue 17 §3): figures
// near 1e308 print no NaN or Infinity; a negative energy per token is "not measured", with a
// warning naming the field, never "improved". The folders compared are left as they were.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { lem } from "../helpers/project.js";
import { tempDir } from "../helpers/temp.js";
import { config, fakeResult } from "../helpers/fixtures.js";
import { ResultStore } from "../../src/store/store.js";
import { measurementHash } from "../../src/config/hash.js";
import { STACK } from "../faults/helpers.js";

const exp = { name: "fast", config: config({ pytorch: { batch_size: 4 } }) };

/** A results folder with one cycle per J/token value (written through the store, as lem would). */
function store(dir: string, jPerToken: number[], tokensPerS = 100): string {
  const s = new ResultStore(dir);
  const hash = measurementHash(exp.config);
  s.saveConfig(hash, [exp.name], [], exp.config, 1);
  jPerToken.forEach((j, i) => {
    const r = fakeResult({ hash, cycle: i + 1, config: exp.config, names: [exp.name], hardware: "cpu:test-cpu" });
    r.energy = { ...r.energy, status: "measured", method: "test counter", total_j: j * 8, per_output_token_j: j, avg_power_w: 10, peak_power_w: 12, reason: null };
    r.throughput.output_tokens_per_s = tokensPerS + i;
    s.saveResult(r);
  });
  return dir;
}

const snapshot = (dir: string) => readdirSync(dir, { recursive: true }).map(String).sort().map((f) => {
  try { return `${f}:${readFileSync(join(dir, f), "base64")}`; } catch { return f; }
});

async function compare(base: number[], current: number[]) {
  const dir = tempDir();
  store(join(dir, "base"), base);
  store(join(dir, "cur"), current);
  const before = [snapshot(join(dir, "base")), snapshot(join(dir, "cur"))];
  const runs = await Promise.all([[], ["--markdown"], ["--json"]].map((flags) => lem(dir, ["compare", "base", "cur", ...flags])));
  assert.equal([snapshot(join(dir, "base")), snapshot(join(dir, "cur"))], before, "the compared folders are untouched");
  for (const r of runs) assert.not.match(r.stdout + r.stderr, STACK, r.stderr);
  return runs;
}

test("energy per token near 1e308: no NaN or Infinity in the table, Markdown or JSON", async () => {
  const [table, markdown, json] = await compare([1.5e308, 1.6e308, 1.7e308], [1.5e308, 1.6e308, 1.7e308]);
  for (const r of [table, markdown, json]) {
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.not.match(r.stdout, /NaN|Infinity/, r.stdout);
  }
  const energy = JSON.parse(json.stdout).configs[0].metrics.find((m: { metric: string }) => m.metric === "energy_per_token_j");
  assert.is(energy.verdict, "no significant change");
  assert.is(energy.change, 0);
  assert.ok(energy.base.mean > 1e308 && Number.isFinite(energy.base.mean), String(energy.base.mean));
  assert.match(table.stdout, /energy per output token.*no significant change/);
});

test("a 10 % rise among values near 1e308 is still found: a regression, exit 1, finite figures", async () => {
  const base = [1.0e307, 1.01e307, 0.99e307, 1.0e307];
  const [table, , json] = await compare(base, base.map((x) => x * 1.1));
  assert.is(table.code, 1, table.stdout + table.stderr);
  assert.match(table.stdout, /REGRESSION: fast \(energy_per_token_j\)/);
  assert.match(table.stdout, /\+10\.0%/);
  assert.not.match(table.stdout + json.stdout, /NaN|Infinity/);
});

test("a negative energy per token is not measured, with a warning naming the field; never improved", async () => {
  const [table, markdown, json] = await compare([0.01, 0.0101, 0.0099], [-0.01, -0.0101, -0.0099]);
  for (const r of [table, markdown, json]) {
    assert.is(r.code, 3, `a gated metric that is not measured fails the gate as unchecked: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /warning: fast \([0-9a-f]{16}\) on cpu:test-cpu: energy_per_token_j -0\.01 in current cycle 1 is negative: not a physical value/);
    assert.not.match(r.stdout, /energy per output token.*improved/);
  }
  assert.match(table.stdout, /energy per output token.*not measured\n/);
  assert.match(table.stdout, /^not measured: energy_per_token_j in 1 config\(s\): energy_per_token_j -0\.01 in current cycle 1 is negative/m);
  const energy = JSON.parse(json.stdout).configs[0].metrics.find((m: { metric: string }) => m.metric === "energy_per_token_j");
  assert.is(energy.verdict, "not measured");
  assert.is(energy.change, null);
});

test.run();
