// Where a node's time goes on the local runner: lem + process start, the harness's own setup
// (torch import, model init, warmup), and the measurement window itself. Usage:
//   bench/measurement [preset] [cycles]      (default: small, 3; needs a Python with torch: LEM_PYTHON)
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";

const [preset = "small", cyclesArg = "3"] = process.argv.slice(2);
const cycles = Number(cyclesArg);
const LEM = fileURLToPath(new URL("../bin/lem.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "lem-bench-"));
writeFileSync(join(dir, "lemfile.ts"), `import { defineLemfile } from "llenergymeasure";
export default defineLemfile({
  experiments: [{ name: "m", model: "synthetic:${preset}", n: 8, max_input_tokens: 64, max_output_tokens: 32,
    precision: "bf16", pytorch: { batch_size: 4 }, warmup: { n_warmup: 2 }, baseline: { enabled: false } }],
  execution: { cycles: ${cycles} },
  runners: { pytorch: "local" },
});\n`);
const env = { ...process.env, CI: "true", LEM_RUNNER_PYTORCH: "local" };
const t0 = performance.now();
const build = spawnSync(process.execPath, [LEM, "build"], { cwd: dir, env, encoding: "utf8" });
const wall = (performance.now() - t0) / 1000;
if (build.status !== 0) throw new Error(build.stdout + build.stderr);
const show = JSON.parse(spawnSync(process.execPath, [LEM, "show", "m", "--json"], { cwd: dir, env, encoding: "utf8" }).stdout) as {
  results: { started_at: string; finished_at: string; duration_s: number; throughput: { output_tokens_per_s: number } }[];
};
rmSync(dir, { recursive: true, force: true });

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const harness = mean(show.results.map((r) => (Date.parse(r.finished_at) - Date.parse(r.started_at)) / 1000));
const window = mean(show.results.map((r) => r.duration_s));
const perNode = wall / cycles;
console.log(`synthetic:${preset}, n 8, batch 4, 32 output tokens, bf16, ${cycles} cycles, local runner`);
console.log(`per node (mean)                       seconds   share`);
const line = (what: string, s: number) => console.log(`${what.padEnd(36)} ${s.toFixed(3).padStart(8)}  ${((s / perNode) * 100).toFixed(0).padStart(4)}%`);
line("measurement window (inference)", window);
line("harness setup (import, model, warmup)", harness - window);
line("Python start, torch import, lem", perNode - harness);
line("total", perNode);
