// lem compare end to end on two stores of synthetic, schema-valid results.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { lem } from "./helpers/project.js";
import { tempDir } from "./helpers/temp.js";
import { config, fakeResult } from "./helpers/fixtures.js";
import { ResultStore } from "../src/store/store.js";
import { measurementHash } from "../src/config/hash.js";
import { loadStoreFolder } from "../src/compare/compare-source.js";
import { compareGroups, DEFAULT_OPTIONS } from "../src/compare/compare.js";
import { detectable } from "../src/compare/stats.js";

const HW = "cpu:test-cpu";
const fast = { name: "fast", config: config({ pytorch: { batch_size: 4 } }) };
const slow = { name: "slow", config: config({ pytorch: { batch_size: 1 } }) };

/** Stores one result per J/token value (one cycle each; null: not measured), with throughput and latency held steady. */
function store(dir: string, exp = fast, jPerToken: (number | null)[], hardware = HW, tokensPerS?: number[]) {
  const s = new ResultStore(dir);
  const hash = measurementHash(exp.config);
  s.saveConfig(hash, [exp.name], [], exp.config, 1);
  jPerToken.forEach((j, i) => {
    const r = fakeResult({ hash, cycle: i + 1, config: exp.config, names: [exp.name], hardware });
    r.energy = j === null
      ? { ...r.energy, status: "unavailable", total_j: null, per_output_token_j: null, reason: "no energy sensor on this test machine" }
      : { ...r.energy, status: "measured", method: "test counter", total_j: j * 8, per_output_token_j: j, avg_power_w: 10, peak_power_w: 12, reason: null };
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
  assert.is(r.code, 3, `too few cycles: the gate checked nothing there\n${r.stdout}`);
  assert.match(r.stdout, /fast .*not enough cycles \(base 1, current 3; need 2 each\)/);
  assert.match(r.stdout, /GATE NOT CHECKED: every metric not measured in 1 config\(s\) \(exit 3; --allow-unmeasured passes it\)/);
  assert.is((await lem(dir, ["compare", "base", "cur", "--allow-unmeasured"])).code, 0);
  assert.match(r.stdout, /slow \([0-9a-f]{16}\): not compared, measured on other hardware \(base gpu:A100 x1; current gpu:H100 x1\)/);
  const json = JSON.parse((await lem(dir, ["compare", "base", "cur", "--json"])).stdout);
  assert.is(json.configs[0].status, "not enough cycles");
  assert.is(json.other_hardware.length, 1);
});

test("energy unmeasured on both sides: the energy gate is not checked (exit 3), the reason is said once; --gate or --allow-unmeasured pass", async () => {
  const dir = tempDir();
  const none = [null, null, null];
  store(join(dir, "base"), fast, none, HW, [100, 101, 99]);
  store(join(dir, "cur"), fast, none, HW, [100, 100.5, 99.5]);
  store(join(dir, "base"), slow, none, HW, [50, 51, 49]);
  store(join(dir, "cur"), slow, none, HW, [50, 50.5, 49.5]);
  const r = await lem(dir, ["compare", "base", "cur"]);
  assert.is(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /GATE NOT CHECKED: energy_per_token_j not measured in 2 config\(s\) \(exit 3; --allow-unmeasured passes it\)/);
  assert.is(r.stdout.split("no energy sensor on this test machine").length - 1, 1, `the reason once:\n${r.stdout}`);
  assert.match(r.stdout, /^not measured: energy_per_token_j in 2 config\(s\): no energy sensor on this test machine$/m);
  assert.not.match(r.stdout, /no significant regression beyond the minimum effect/);
  const json = JSON.parse((await lem(dir, ["compare", "base", "cur", "--json"])).stdout);
  assert.equal([json.gate_checked, json.unchecked.length, json.unchecked[0].metric], [false, 2, "energy_per_token_j"]);
  const markdown = await lem(dir, ["compare", "base", "cur", "--markdown"]);
  assert.is(markdown.code, 3);
  assert.match(markdown.stdout, /^### lem compare: ⚠️ gate not checked/);
  // What was measured can still be gated, or the unmeasured allowed explicitly.
  assert.is((await lem(dir, ["compare", "base", "cur", "--gate", "throughput,ttft,itl"])).code, 0);
  const allowed = await lem(dir, ["compare", "base", "cur", "--allow-unmeasured"]);
  assert.is(allowed.code, 0, allowed.stdout);
  assert.match(allowed.stdout, /GATE NOT CHECKED: .*\(passed: --allow-unmeasured\)/);
  // A real throughput regression still fails with 1, whatever is unmeasured.
  store(join(dir, "worse"), fast, none, HW, [80, 81, 79]);
  assert.is((await lem(dir, ["compare", "base", "worse"])).code, 1);
});

test("two stores with no config in common: the gate checked nothing (exit 3), unless --allow-unmeasured", async () => {
  const dir = tempDir();
  store(join(dir, "base"), fast, BASE_J);
  store(join(dir, "cur"), slow, BASE_J);
  const r = await lem(dir, ["compare", "base", "cur"]);
  assert.is(r.code, 3, r.stdout);
  assert.match(r.stdout, /GATE NOT CHECKED: no config was measured on the same hardware in both stores/);
  assert.is((await lem(dir, ["compare", "base", "cur", "--allow-unmeasured"])).code, 0);
  assert.is((await lem(dir, ["compare", "base", "cur", "--gate", "none"])).code, 0, "no gate: nothing to check");
});

test("too few cycles for the minimum effect: the smallest detectable change, and the cycles the asked effect needs", async () => {
  const dir = tempDir();
  const noisy = [0.0100, 0.0106, 0.0095];
  store(join(dir, "base"), fast, noisy);
  store(join(dir, "cur"), fast, noisy.map((j) => j * 1.01));
  const r = await lem(dir, ["compare", "base", "cur", "--min-effect", "energy=2%", "--json"]);
  const energy = JSON.parse(r.stdout).configs[0].metrics.find((m: { metric: string }) => m.metric === "energy_per_token_j");
  assert.ok(energy.detectable_change > 0.02, `3 noisy cycles cannot see 2 %: ${energy.detectable_change}`);
  const n = energy.cycles_for_min_effect as number;
  assert.ok(n > 3 && n < 10_000, String(n));
  // The same formula the note uses, checked from its definition: n cycles reach 2 %, n − 1 do not.
  const d = detectable(noisy, noisy.map((j) => j * 1.01), 0.05)!;
  assert.ok(Math.abs(d.cyclesFor(0.02 * 0.01)! - n) <= 1, `${d.cyclesFor(0.02 * 0.01)} vs ${n} (compare works on values scaled by a power of two)`);
  const table = await lem(dir, ["compare", "base", "cur", "--min-effect", "energy=2%"]);
  assert.match(table.stdout, new RegExp(`fast energy_per_token_j: these cycles detect changes of [0-9.]+% or more \\(80% power\\); the 2\\.0% minimum effect needs ${n} cycles per side`));
  // Many steady cycles detect small changes: no note.
  const calm = tempDir();
  store(join(calm, "base"), fast, BASE_J);
  store(join(calm, "cur"), fast, BASE_J);
  assert.not.match((await lem(calm, ["compare", "base", "cur", "--min-effect", "energy=5%"])).stdout, /these cycles detect/);
});

test("detectable: the cycles it names are the fewest whose smallest detectable change reaches the asked one", () => {
  const base = [10, 11, 9.5, 10.4], current = [10.2, 10.9, 9.9, 10.1];
  const d = detectable(base, current, 0.05)!;
  for (const wanted of [0.3, 0.8, 2]) {
    const n = d.cyclesFor(wanted)!;
    const at = (k: number) => detectable(stretch(base, k), stretch(current, k), 0.05)!.smallest;
    assert.ok(at(n) <= wanted + 1e-9, `${n} cycles detect ${wanted}: ${at(n)}`);
    if (n > 2) assert.ok(at(n - 1) > wanted, `${n - 1} cycles do not: ${at(n - 1)}`);
  }
  assert.is(detectable([1, 1], [2, 2], 0.05), null, "constant series: any change is detected");
  /** k values with the same mean and sample variance as xs (two points, mirrored about the mean). */
  function stretch(xs: number[], k: number): number[] {
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
    const half = Math.floor(k / 2);
    const spread = sd * Math.sqrt((k - 1) / (2 * half));
    return Array.from({ length: k }, (_, i) => (i < half ? m - spread : i < 2 * half ? m + spread : m));
  }
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

test("a side whose cycles ran on different software stacks gets a note naming them; the figures are still compared", async () => {
  const dir = tempDir();
  store(join(dir, "base"), fast, BASE_J);
  const hash = store(join(dir, "cur"), fast, BASE_J);
  // cycles 4 and 5 of the current store were measured after a torch upgrade
  const cur = new ResultStore(join(dir, "cur"));
  for (const r of cur.results(hash)) {
    cur.saveResult({ ...r, environment: { ...r.environment, torch: r.cycle >= 4 ? "2.6.0" : "2.5.1" } });
  }
  const r = await lem(dir, ["compare", "base", "cur"]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /fast on cpu:test-cpu: current cycles from mixed software stacks: torch 2\.5\.1 \(cycles 1, 2, 3\) vs 2\.6\.0 \(cycles 4, 5\)/);
  assert.not.match(r.stdout, /base cycles from mixed/);
  const json = JSON.parse((await lem(dir, ["compare", "base", "cur", "--json"])).stdout);
  assert.equal(json.configs[0].mixed_stack, { base: [], current: [{ field: "torch", values: [{ value: "2.5.1", cycles: [1, 2, 3] }, { value: "2.6.0", cycles: [4, 5] }] }] });
  assert.match((await lem(dir, ["compare", "base", "cur", "--markdown"])).stdout, /^- fast on .+: current cycles from mixed software stacks: torch/m);
});

test("compareGroups pairs only (hash, hardware) present in both stores", () => {
  const dir = tempDir();
  store(join(dir, "a"), fast, BASE_J);
  store(join(dir, "b"), slow, BASE_J);
  const c = compareGroups(loadStoreFolder(join(dir, "a")).groups, loadStoreFolder(join(dir, "b")).groups, DEFAULT_OPTIONS);
  assert.equal([c.configs.length, c.onlyInBase.map((u) => u.name), c.onlyInCurrent.map((u) => u.name), c.regressed], [0, ["fast"], ["slow"], false]);
});

test.run();
