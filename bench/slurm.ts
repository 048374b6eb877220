// lem's overhead per node above a bare `sbatch --wait` of the same job, 20 nodes, on a fresh
// single-node Slurm (test/helpers/slurm.ts: slurm-wlm + munge, as root). One run of each, lem first:
// one at a time (lem --jobs 1, arrays off, against sbatch --wait per job), then all at once
// (lem's default, one job array, against one bare `sbatch --wait --array`).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { startCluster, slurmMissing } from "../test/helpers/slurm.js";
import { jobScript } from "../src/exec/slurm/slurm-runner.js";
import { LEM_BIN } from "../test/helpers/project.js";

const NODES = 20;
const python = process.env.LEM_PYTHON ?? "/usr/bin/python3";
const missing = slurmMissing();
if (missing) { console.error(`bench/slurm: ${missing}`); process.exit(2); }

const cluster = startCluster();
try {
  const project = mkdtempSync(join(tmpdir(), "lem-bench-slurm-"));
  const sizes = Array.from({ length: NODES }, (_, i) => i + 1);
  writeFileSync(join(project, "lemfile.ts"), `import { defineLemfile, sweep } from "llenergymeasure";
export default defineLemfile({ defaults: { model: "synthetic:tiny", n: 2, max_input_tokens: 8, max_output_tokens: 4, precision: "fp32",
  warmup: { n_warmup: 1 }, baseline: { enabled: false }, pytorch: { num_threads: 1 } },
  experiments: [...sweep("bs", { "pytorch.batch_size": [${sizes.join(", ")}] })] });\n`);
  writeFileSync(join(project, ".lem-config.yaml"), `runners: { pytorch: slurm }\nslurm:\n  python: ${python}\n  arrays: false\n`);
  const env = { ...process.env, ...cluster.env, CI: "true" };

  let t0 = performance.now();
  const build = spawnSync(process.execPath, [LEM_BIN, "build", "--json", "--jobs", "1"], { cwd: project, env, encoding: "utf8", maxBuffer: 1 << 28 });
  const lemS = (performance.now() - t0) / 1000;
  const summary = JSON.parse(build.stdout).summary as { ran: number };
  if (summary.ran !== NODES) throw new Error(`lem build ran ${summary.ran} of ${NODES}:\n${build.stderr.slice(-2000)}`);

  // The same jobs, bare: the payload lem wrote, the same job script, one `sbatch --wait` after another.
  const results = readdirSync(join(project, "results"), { recursive: true }).map(String).filter((f) => /cycle-\d+\.json$/.test(f));
  const bare = mkdtempSync(join(tmpdir(), "lem-bench-bare-"));
  const jobs = results.map((f, i) => {
    const r = JSON.parse(readFileSync(join(project, "results", f), "utf8")) as { hash: string; cycle: number; hardware: string; config: unknown };
    const dir = join(bare, `n${i}`);
    mkdirSync(dir);
    const x = { dir, configFile: `${r.hash}_config.json`, resultFile: `${r.hash}_result.json`, errorFile: `${r.hash}_error.json` };
    writeFileSync(join(dir, x.configFile), JSON.stringify({ protocol_version: 1, hash: r.hash, cycle: r.cycle, total_cycles: 1, names: [f], hardware: r.hardware, config: r.config }));
    writeFileSync(join(dir, "job.sh"), jobScript({ python, sbatch_args: [], shared_dir: bare, poll_max_seconds: 5, max_jobs: 1, arrays: false }, x), { mode: 0o700 });
    return dir;
  });
  t0 = performance.now();
  for (const dir of jobs) {
    const r = spawnSync("sbatch", ["--wait", "--quiet", `--output=${join(dir, "out")}`, `--chdir=${project}`, join(dir, "job.sh")], { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`bare sbatch --wait failed: ${r.stderr}`);
  }
  const bareS = (performance.now() - t0) / 1000;
  const ok = readdirSync(bare).filter((d) => readdirSync(join(bare, d)).some((f) => f.endsWith("_result.json"))).length;
  if (ok !== NODES) throw new Error(`only ${ok} of ${NODES} bare jobs wrote a result`);

  console.log(`${NODES} nodes on a single-node Slurm, one job at a time:`);
  console.log(`  bare sbatch --wait: ${bareS.toFixed(1)} s (${(bareS / NODES).toFixed(2)} s/node)`);
  console.log(`  lem build --runner slurm: ${lemS.toFixed(1)} s (${(lemS / NODES).toFixed(2)} s/node, incl. lem start-up and planning)`);
  console.log(`  overhead per node: ${((lemS - bareS) / NODES).toFixed(2)} s; ratio lem / bare: ${(lemS / bareS).toFixed(2)}x (target <= 1.2x)`);

  // All at once: lem's default (one job array, one squeue poller) against one bare array job.
  writeFileSync(join(project, ".lem-config.yaml"), `runners: { pytorch: slurm }\nslurm:\n  python: ${python}\n`);
  t0 = performance.now();
  const arrayBuild = spawnSync(process.execPath, [LEM_BIN, "build", "--json", "--force"], { cwd: project, env, encoding: "utf8", maxBuffer: 1 << 28 });
  const lemArrayS = (performance.now() - t0) / 1000;
  const ranArray = (JSON.parse(arrayBuild.stdout).summary as { ran: number }).ran;
  if (ranArray !== NODES) throw new Error(`lem build (arrays) ran ${ranArray} of ${NODES}:\n${arrayBuild.stderr.slice(-2000)}`);
  writeFileSync(join(bare, "tasks.txt"), jobs.map((d) => join(d, "job.sh")).join("\n") + "\n");
  writeFileSync(join(bare, "task.sh"), `#!/bin/sh\nexec /bin/sh "$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${join(bare, "tasks.txt")})"\n`, { mode: 0o755 });
  for (const dir of jobs) for (const f of readdirSync(dir)) if (f.endsWith("_result.json")) rmSync(join(dir, f));
  t0 = performance.now();
  const arr = spawnSync("sbatch", ["--wait", "--quiet", `--array=0-${NODES - 1}`, `--output=${join(bare, "out-%a")}`, `--chdir=${project}`, join(bare, "task.sh")], { env, encoding: "utf8" });
  if (arr.status !== 0) throw new Error(`bare sbatch --wait --array failed: ${arr.stderr}`);
  const bareArrayS = (performance.now() - t0) / 1000;
  console.log(`${NODES} nodes at once (the cluster runs ${cpus().length} at a time):`);
  console.log(`  bare sbatch --wait --array: ${bareArrayS.toFixed(1)} s`);
  console.log(`  lem build (one job array): ${lemArrayS.toFixed(1)} s; ratio lem / bare: ${(lemArrayS / bareArrayS).toFixed(2)}x`);
} finally {
  cluster.stop();
}
