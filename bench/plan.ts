// Times `lem build --dry-run --json` (the whole CLI: start-up, lemfile load (esbuild, cached), expand, validate,
// hash, plan against an empty store) for 1,000, 10,000 and 100,000 nodes, plus the in-process
// share of it. Usage: bench/plan [sizes...]
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { loadProject, planProject } from "../src/project/project.js";

const LEM = fileURLToPath(new URL("../bin/lem.js", import.meta.url));
const sizes = process.argv.slice(2).map(Number).filter(Boolean);

function lemfile(nodes: number): string {
  // 100 seeds × (nodes / 200) token lengths × 2 cycles = nodes
  const lengths = Array.from({ length: nodes / 200 }, (_, i) => i + 1);
  return `import { defineLemfile, sweep } from "llenergymeasure";
export default defineLemfile({
  defaults: { model: "synthetic:tiny", backend: "pytorch", n: 8 },
  experiments: sweep("p", { random_seed: [${Array.from({ length: 100 }, (_, i) => i).join(",")}], max_output_tokens: [${lengths.join(",")}] }),
  execution: { cycles: 2, cycle_order: "shuffled", shuffle_seed: 1 },
});
`;
}

console.log("nodes     lem build --dry-run --json (wall, median of 3)   in-process plan   per node");
for (const n of sizes.length ? sizes : [1_000, 10_000, 100_000]) {
  const dir = mkdtempSync(join(tmpdir(), "lem-bench-"));
  writeFileSync(join(dir, "lemfile.ts"), lemfile(n));
  const walls: number[] = [];
  let count = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [LEM, "build", "--dry-run", "--json"], { cwd: dir, encoding: "utf8", maxBuffer: 1 << 30 });
    walls.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(r.stderr);
    count = (JSON.parse(r.stdout) as { nodes: unknown[] }).nodes.length;
  }
  const t0 = performance.now();
  const project = await loadProject(join(dir, "lemfile.ts"));
  planProject(project, []);
  const inProcess = performance.now() - t0;
  const wall = walls.sort((a, b) => a - b)[1];
  console.log(`${String(count).padEnd(9)} ${(wall / 1000).toFixed(3).padStart(8)} s${"".padEnd(38)} ${(inProcess / 1000).toFixed(3)} s   ${((wall / count) * 1000).toFixed(1)} µs`);
  rmSync(dir, { recursive: true, force: true });
}
