// Planning the same jobs with lem, snakemake and make, side by side (issue 6, section 4):
// 100 seeds × N/200 token lengths × 2 cycles = N jobs, each a result file not yet made.
//   lem build --dry-run --json   (a sweep in lemfile.ts; empty store)
//   snakemake -n                 (one wildcard rule, expand() over the same three axes)
//   make -n                      (one pattern rule, N explicit targets)
// Targets at 10,000: lem ≥ 12× faster than snakemake -n, ≥ 4× faster than make -n; linear to 100,000.
// Usage: bench/plan-vs [rounds] [--snakemake-100k]   (installs snakemake with apt-get when missing and root)
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { interleaved, median, type Command } from "./timing.js";

const LEM = fileURLToPath(new URL("../bin/lem.js", import.meta.url));
const args = process.argv.slice(2);
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
const snakemake100k = args.includes("--snakemake-100k");

const has = (tool: string) => spawnSync(tool, ["--version"], { stdio: "ignore" }).status === 0;
if (!has("snakemake") || !has("make")) {
  if (process.getuid?.() === 0 && has("apt-get")) {
    console.error("installing snakemake and make (apt-get) ...");
    spawnSync("apt-get", ["install", "-y", "-q", "snakemake", "make"], { stdio: ["ignore", "ignore", "inherit"] });
  }
}
const tools = { snakemake: has("snakemake"), make: has("make") };
for (const [tool, ok] of Object.entries(tools)) if (!ok) console.error(`${tool} not found: its column is left out (apt-get install ${tool})`);

function project(nodes: number): string {
  const dir = mkdtempSync(join(tmpdir(), `lem-bench-vs-${nodes}-`));
  const lengths = Array.from({ length: nodes / 200 }, (_, i) => i + 1);
  const seeds = Array.from({ length: 100 }, (_, i) => i);
  writeFileSync(join(dir, "lemfile.ts"), `import { defineLemfile, sweep } from "llenergymeasure";
export default defineLemfile({
  defaults: { model: "synthetic:tiny", backend: "pytorch", n: 8 },
  experiments: sweep("p", { random_seed: [${seeds.join(",")}], max_output_tokens: [${lengths.join(",")}] }),
  execution: { cycles: 2, cycle_order: "shuffled", shuffle_seed: 1 },
});
`);
  mkdirSync(join(dir, "smk"));
  writeFileSync(join(dir, "smk", "Snakefile"), `rule all:
    input: expand("results/p-{seed}-{length}/cycle-{cycle}.json", seed=range(100), length=range(1, ${lengths.length + 1}), cycle=[1, 2])
rule measure:
    output: "results/p-{seed}-{length}/cycle-{cycle}.json"
    shell: "echo measure seed={wildcards.seed} max_output_tokens={wildcards.length} > {output}"
`);
  const targets = seeds.flatMap((s) => lengths.flatMap((l) => [1, 2].map((c) => `results/p-${s}-${l}/cycle-${c}.json`)));
  writeFileSync(join(dir, "Makefile"), `all: ${targets.join(" ")}\n\nresults/%.json:\n\tmkdir -p $(dir $@) && echo measure $* > $@\n`);
  return dir;
}

const rows: { nodes: number; medians: Record<string, number> }[] = [];
for (const nodes of [10_000, 100_000]) {
  const dir = project(nodes);
  const env = { ...process.env, LEM_CACHE_DIR: join(dir, ".cache") };
  const commands: Command[] = [
    { label: "lem", argv: [process.execPath, LEM, "build", "--dry-run", "--json"], options: { cwd: dir, env } },
  ];
  if (tools.make) commands.push({ label: "make", argv: ["make", "-n", "-s"], options: { cwd: dir } });
  if (tools.snakemake && (nodes === 10_000 || snakemake100k)) {
    commands.push({ label: "snakemake", argv: ["snakemake", "-n", "-q", "--cores", "1"], options: { cwd: join(dir, "smk") } });
  }
  const times = interleaved(commands, rounds, 1);
  rows.push({ nodes, medians: Object.fromEntries([...times].map(([label, t]) => [label, median(t)])) });
  rmSync(dir, { recursive: true, force: true });
}

const s = (x: number | undefined) => (x === undefined ? "—" : `${x.toFixed(3)} s`);
const ratio = (other: number | undefined, lem: number) => (other === undefined ? "—" : `${(other / lem).toFixed(2)}×`);
console.log(`bench/plan-vs: ${rounds} interleaved rounds, medians (node ${process.version}, ${new Date().toISOString().slice(0, 10)})\n`);
console.log("| jobs | lem build --dry-run --json | snakemake -n | make -n | snakemake ÷ lem | make ÷ lem |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const { nodes, medians: m } of rows) {
  console.log(`| ${nodes.toLocaleString("en")} | ${s(m.lem)} | ${s(m.snakemake)} | ${s(m.make)} | ${ratio(m.snakemake, m.lem)} | ${ratio(m.make, m.lem)} |`);
}
const [small, large] = rows;
const slope = (label: string) => (large.medians[label] - small.medians[label]) / (large.nodes - small.nodes) * 1e6;
console.log(`\nlem: ${(small.medians.lem / small.nodes * 1e6).toFixed(1)} µs/job at 10,000, ${(large.medians.lem / large.nodes * 1e6).toFixed(1)} µs/job at 100,000; ` +
  `marginal ${slope("lem").toFixed(1)} µs/job (make: ${tools.make ? slope("make").toFixed(1) : "—"} µs/job); ` +
  `100,000 ÷ 10,000 wall = ${(large.medians.lem / small.medians.lem).toFixed(1)} (10 = linear, less: fixed start-up)`);
