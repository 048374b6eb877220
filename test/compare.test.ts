// lem compare end to end on two stores of synthetic, schema-valid results.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { lem } from "./helpers/project.js";
import { tempDir } from "./helpers/temp.js";
import { config, fakeResult } from "./helpers/fixtures.js";
import { ResultStore } from "../src/store/store.js";
import { measurementHash } from "../src/graph/hash.js";
import { loadStoreFolder } from "../src/report/compare-source.js";
import { compareGroups, DEFAULT_OPTIONS } from "../src/report/compare.js";

const HW = "cpu:test-cpu";
const fast = { name: "fast", config: config({ pytorch: { batch_size: 4 } }) };
const slow = { name: "slow", config: config({ pytorch: { batch_size: 1 } }) };

/** Stores one result per J/token value (one cycle each), with throughput and latency held steady. */
function store(dir: string, exp = fast, jPerToken: number[], hardware = HW, tokensPerS?: number[]) {
  const s = new ResultStore(dir);
  const hash = measurementHash(exp.config);
  s.saveConfig(hash, [exp.name], [], exp.config, 1);
  jPerToken.forEach((j, i) => {
    const r = fakeResult({ hash, cycle: i + 1, config: exp.config, names: [exp.name], hardware });
    r.energy = { ...r.energy, status: "measured", method: "test counter", total_j: j * 8, per_output_token_j: j, avg_power_w: 10, peak_power_w: 12, reason: null };
    r.throughput.output_tokens_per_s = tokensPerS?.[i] ?? 100 + (i % 3);
    r.latency.ttft_ms = { n: 8, mean: 10, p50: 10 + (i % 2) * 0.1, p90: 11, p95: 11, p99: 12 };
    r.latency.itl_ms = { n: 8, mean: 5, p50: 5 + (i % 2) * 0.05, p90: 6, p95: 6, p99: 6 };
    s.saveResult(r);
  });
  return hash;
}

const BASE_J = [0.0100, 0.0101, 0.0099, 0.0100, 0.0102];

test("the stores' results load valid (else they would be quarantined and the tests below vacuous)", () => {
  const dir = tempDir();
  store(join(dir, "r"), fast, BASE_J);
  const loaded = loadStoreFolder(join(dir, "r"));
  assert.equal(loaded.warnings, []);
  assert.is(loaded.groups[0].cycles.length, 5);
});

test("a 10 % energy regression exits 1 and names the config and metric", async () => {
  const dir = tempDir();
  store(join(dir, "base"), fast, BASE_J);
  store(join(dir, "cur"), fast, BASE_J.map((j) => j * 1.1));
  const r = await lem(dir, ["compare", "base", "cur"]);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /REGRESSION: fast \(energy_per_token_j\)/);
  assert.match(r.stdout, /energy per output token.*\+10\.0%.*REGRESSED/);
  const json = JSON.parse((await lem(dir, ["compare", "base", "cur", "--json"])).stdout);
  const energy = json.configs[0].metrics.find((m: { metric: string }) => m.metric === "energy_per_token_j");
  assert.ok(energy.p_value < 0.05 && energy.change > 0.09 && energy.change_ci[0] > 0, JSON.stringify(energy));
  assert.is(json.regressed, true);
});

test("a noise-level change exits 0; a significant change under the minimum effect exits 0; --min-effect lowers the bar", async () => {
  const dir = tempDir();
  store(join(dir, "base"), fast, BASE_J);
  store(join(dir, "noise"), fast, [0.0101, 0.0099, 0.0100, 0.0102, 0.0100]);
  store(join(dir, "small"), fast, BASE_J.map((j) => j * 1.03));
  const noise = await lem(dir, ["compare", "base", "noise"]);
  assert.is(noise.code, 0, noise.stdout);
  assert.match(noise.stdout, /energy per output token.*no significant change/);
  const small = await lem(dir, ["compare", "base", "small"]);
  assert.is(small.code, 0, small.stdout);
  assert.match(small.stdout, /energy per output token.*below min effect/);
  const strict = await lem(dir, ["compare", "base", "small", "--min-effect", "energy=2%"]);
  assert.is(strict.code, 1, strict.stdout);
  const ungated = await lem(dir, ["compare", "base", "small", "--min-effect", "2%", "--gate", "throughput"]);
  assert.is(ungated.code, 0, ungated.stdout);
  assert.match(ungated.stdout, /regressed \(not gated\)/);
});

test("a throughput drop is a regression (higher is better there); an energy drop is an improvement", async () => {
  const dir = tempDir();
  store(join(dir, "base"), fast, BASE_J, HW, [100, 101, 99, 100, 102]);
  store(join(dir, "cur"), fast, BASE_J.map((j) => j * 0.8), HW, [80, 81, 79, 80, 82]);
  const r = await lem(dir, ["compare", "base", "cur", "--markdown"]);
  assert.is(r.code, 1);
  assert.match(r.stdout, /^### lem compare: ❌ regression/);
  assert.match(r.stdout, /\| fast \| cpu:test-cpu \| output throughput \|.*REGRESSED \|/);
  assert.match(r.stdout, /\| energy per output token \|.*improved \|/);
});

test("too few cycles are reported as not enough cycles, not passed silently; other hardware is named", async () => {
  const dir = tempDir();
  store(join(dir, "base"), fast, [0.01]);
  store(join(dir, "cur"), fast, [0.02, 0.021, 0.022]);
  store(join(dir, "base"), slow, BASE_J, "gpu:A100 x1");
  store(join(dir, "cur"), slow, BASE_J, "gpu:H100 x1");
  const r = await lem(dir, ["compare", "base", "cur"]);
  assert.is(r.code, 0, r.stdout);
  assert.match(r.stdout, /fast .*not enough cycles \(base 1, current 3; need 2 each\)/);
  assert.match(r.stdout, /slow \([0-9a-f]{16}\): not compared, measured on other hardware \(base gpu:A100 x1; current gpu:H100 x1\)/);
  const json = JSON.parse((await lem(dir, ["compare", "base", "cur", "--json"])).stdout);
  assert.is(json.configs[0].status, "not enough cycles");
  assert.is(json.other_hardware.length, 1);
});

test("git:REF reads the store as committed at that ref", async () => {
  const repo = tempDir();
  const g = (...args: string[]) => {
    const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: repo });
    assert.is(r.status, 0, r.stderr?.toString());
  };
  g("init", "-q", "-b", "main");
  store(join(repo, "results"), fast, BASE_J);
  g("add", "results");
  g("commit", "-q", "-m", "base");
  g("tag", "before");
  store(join(repo, "results"), fast, BASE_J.map((j) => j * 1.2));
  const r = await lem(repo, ["compare", "git:before", "results"]);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /\+20\.0%/);
  const same = await lem(repo, ["compare", "git:main:results", "git:before"]);
  assert.is(same.code, 0, same.stdout + same.stderr);
  const missing = await lem(repo, ["compare", "git:nope", "results"]);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /no commit "nope"/);
});

test("bad arguments exit 2 with the flag named", async () => {
  const dir = tempDir();
  store(join(dir, "base"), fast, BASE_J);
  const cases: [string[], RegExp][] = [
    [["compare", "base"], /expected BASE and CURRENT/],
    [["compare", "base", "missing"], /missing: not a results folder/],
    [["compare", "base", "base", "--min-effect", "power=3%"], /--min-effect: unknown metric "power"/],
    [["compare", "base", "base", "--min-effect", "energy=lots"], /--min-effect: expected a share/],
    [["compare", "base", "base", "--alpha", "2"], /--alpha/],
    [["compare", "base", "base", "--min-cycles", "1"], /--min-cycles/],
    [["compare", "base", "base", "--gate", "speed"], /--gate: unknown metric/],
  ];
  for (const [args, message] of cases) {
    const r = await lem(dir, args);
    assert.is(r.code, 2, args.join(" "));
    assert.match(r.stderr, message);
  }
});

test("compareGroups pairs only (hash, hardware) present in both stores", () => {
  const dir = tempDir();
  store(join(dir, "a"), fast, BASE_J);
  store(join(dir, "b"), slow, BASE_J);
  const c = compareGroups(loadStoreFolder(join(dir, "a")).groups, loadStoreFolder(join(dir, "b")).groups, DEFAULT_OPTIONS);
  assert.equal([c.configs.length, c.onlyInBase.map((u) => u.name), c.onlyInCurrent.map((u) => u.name), c.regressed], [0, ["fast"], ["slow"], false]);
});

test.run();
