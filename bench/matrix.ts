// Two figures for lem matrix (issue 8): (1) its time on 10,000 pending nodes as a ratio to planning
// the same nodes (`lem build --dry-run --json`), alternating, median of 5 each; (2) the expected
// shard imbalance (max/mean seconds) of a sweep with mixed model sizes, balanced by the cost model
// against the old hash-modulo split of the same configs. Usage: bench/matrix
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { loadProject, planProject } from "../src/project/project.js";
import { costModel } from "../src/graph/cost-model.js";
import { planMatrix } from "../src/graph/matrix.js";
import { imbalance } from "../src/graph/shard-plan.js";

const LEM = fileURLToPath(new URL("../bin/lem.js", import.meta.url));

function project(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), "lem-bench-matrix-"));
  writeFileSync(join(dir, "lemfile.ts"), `import { defineLemfile, sweep } from "llenergymeasure";\nexport default defineLemfile(${body});\n`);
  return dir;
}

function time(dir: string, args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [LEM, ...args], { cwd: dir, encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(r.stderr);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// (1) 100 seeds × 50 lengths × 2 cycles = 10,000 nodes.
const big = project(`{ defaults: { model: "synthetic:tiny", n: 8 }, experiments: sweep("p", { random_seed: [${Array.from({ length: 100 }, (_, i) => i)}], max_output_tokens: [${Array.from({ length: 50 }, (_, i) => i + 1)}] }), execution: { cycles: 2 } }`);
const plan: number[] = [];
const matrix: number[] = [];
for (let i = 0; i < 5; i++) {
  plan.push(time(big, ["build", "--dry-run", "--json"]));
  matrix.push(time(big, ["matrix", "--max-jobs", "256"]));
}
rmSync(big, { recursive: true, force: true });
console.log(`10,000 pending nodes: lem matrix --max-jobs 256 ${(median(matrix) / 1000).toFixed(3)} s, lem build --dry-run --json ${(median(plan) / 1000).toFixed(3)} s: ratio ${(median(matrix) / median(plan)).toFixed(2)}`);

// (2) 4 model sizes × 6 batch sizes × 2 lengths = 48 configs, 2 cycles each, into 8 shards.
const mixed = project(`{ experiments: sweep("m", { model: ["synthetic:tiny", "synthetic:small", "synthetic:1b", "synthetic:8b"], "pytorch.batch_size": [1, 2, 4, 8, 16, 32], max_output_tokens: [64, 256] }, { n: 50 }), execution: { cycles: 2 } }`);
const loaded = await loadProject(join(mixed, "lemfile.ts"));
const { planned } = planProject(loaded, []);
const cost = costModel(new Map());
for (const shards of [4, 8]) {
  const balanced = planMatrix(planned, cost, shards);
  // The old split: config hash (first 8 hex digits) modulo N.
  const modulo = Array.from({ length: shards }, () => ({ seconds: 0 }));
  const seen = new Set<string>();
  for (const node of planned) {
    modulo[parseInt(node.hash.slice(0, 8), 16) % shards].seconds += cost.seconds(node.hash, node.config);
    seen.add(node.hash);
  }
  const empty = modulo.filter((s) => s.seconds === 0).length;
  console.log(`${seen.size} configs × 2 cycles, mixed sizes, ${shards} shards: balanced imbalance ${balanced.imbalance!.toFixed(2)}, hash-modulo ${imbalance(modulo)!.toFixed(2)}${empty ? ` (${empty} empty shards)` : ""}`);
}
rmSync(mixed, { recursive: true, force: true });
