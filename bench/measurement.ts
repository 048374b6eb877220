// Where a node's time goes on the local runner: lem + process start, the harness's own setup
// (torch import, model init, warmup), and the measurement window itself. Usage:
//   bench/measurement [preset] [cycles] [--phase-split]
// (default: small, 3; needs a Python with torch: LEM_PYTHON). --phase-split builds the same
// experiment with and without energy.phase_split and prints what the extra prefill pass costs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";

const args = process.argv.slice(2);
const phaseSplit = args.includes("--phase-split");
const [preset = "small", cyclesArg = "3"] = args.filter((a) => !a.startsWith("--"));
const cycles = Number(cyclesArg);
const LEM = fileURLToPath(new URL("../bin/lem.js", import.meta.url));
const env = { ...process.env, CI: "true", LEM_RUNNER_PYTORCH: "local" };

interface Shown { started_at: string; finished_at: string; duration_s: number; energy: { phases?: { prefill: { window_s: number } } } }

/** Builds one experiment on the local runner; per node: wall, harness, window and prefill-pass seconds (means). */
function measure(split: boolean) {
  const dir = mkdtempSync(join(tmpdir(), "lem-bench-"));
  writeFileSync(join(dir, "lemfile.ts"), `import { defineLemfile } from "llenergymeasure";
export default defineLemfile({
  experiments: [{ name: "m", model: "synthetic:${preset}", n: 8, max_input_tokens: 64, max_output_tokens: 32,
    precision: "bf16", pytorch: { batch_size: 4 }, warmup: { n_warmup: 2 }, baseline: { enabled: false }${split ? ", energy: { phase_split: true }" : ""} }],
  execution: { cycles: ${cycles} },
  runners: { pytorch: "local" },
});\n`);
  const t0 = performance.now();
  const build = spawnSync(process.execPath, [LEM, "build"], { cwd: dir, env, encoding: "utf8" });
  const wall = (performance.now() - t0) / 1000;
  if (build.status !== 0) throw new Error(build.stdout + build.stderr);
  const show = JSON.parse(spawnSync(process.execPath, [LEM, "show", "m", "--json"], { cwd: dir, env, encoding: "utf8" }).stdout) as { results: Shown[] };
  rmSync(dir, { recursive: true, force: true });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    perNode: wall / cycles,
    harness: mean(show.results.map((r) => (Date.parse(r.finished_at) - Date.parse(r.started_at)) / 1000)),
    window: mean(show.results.map((r) => r.duration_s)),
    prefill: mean(show.results.map((r) => r.energy.phases?.prefill.window_s ?? 0)),
  };
}

const setting = `synthetic:${preset}, n 8, batch 4, 64 input and 32 output tokens, bf16, ${cycles} cycles, local runner`;
const base = measure(false);
if (!phaseSplit) {
  console.log(setting);
  console.log(`per node (mean)                       seconds   share`);
  const line = (what: string, s: number) => console.log(`${what.padEnd(36)} ${s.toFixed(3).padStart(8)}  ${((s / base.perNode) * 100).toFixed(0).padStart(4)}%`);
  line("measurement window (inference)", base.window);
  line("harness setup (import, model, warmup)", base.harness - base.window);
  line("Python start, torch import, lem", base.perNode - base.harness);
  line("total", base.perNode);
} else {
  const split = measure(true);
  console.log(`${setting}: energy.phase_split off against on`);
  console.log(`per node (mean)                    off s     on s`);
  const line = (what: string, a: number, b: number) => console.log(`${what.padEnd(32)} ${a.toFixed(3).padStart(8)} ${b.toFixed(3).padStart(8)}`);
  line("measurement window", base.window, split.window);
  line("prefill pass (its own window)", 0, split.prefill);
  line("total", base.perNode, split.perNode);
  console.log(`the prefill pass is ${((split.prefill / split.window) * 100).toFixed(0)}% of the measured window; the node takes ${(((split.perNode - base.perNode) / base.perNode) * 100).toFixed(0)}% longer`);
}
