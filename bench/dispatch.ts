// lem's own per-node dispatch overhead, both strategies, against raw Docker doing the same work:
// the fake harness (test/fixtures/fake-harness, behaviour "ok": writes a valid result, measures
// nothing) run by a raw `docker run --rm` / `docker exec`, and by `lem build`. lem's per-node cost
// is the slope between a 2-node and a (2+N)-node build, so start-up, image checks and compose
// up/down drop out. Usage: bench/dispatch [N]
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";

const N = Number(process.argv[2] ?? 12);
const IMAGE = "lem-test/fake-harness:latest";
const LEM = fileURLToPath(new URL("../bin/lem.js", import.meta.url));
const FIXTURE = fileURLToPath(new URL("../test/fixtures/fake-harness/", import.meta.url));

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: opts.cwd, env: { ...process.env, CI: "true" } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}
function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

sh("docker", ["build", "-q", "-t", IMAGE, FIXTURE]);
const x = mkdtempSync(join(tmpdir(), "lem-bench-"));
writeFileSync(join(x, "0123456789abcdef_config.json"), JSON.stringify({ hash: "0123456789abcdef", cycle: 1, hardware: "cpu:bench", config: { model: "fake:ok" } }));
const mount = ["-v", `${x}:/run/llem`, "-e", "LEM_CONFIG_PATH=/run/llem/0123456789abcdef_config.json"];

// Raw docker run --rm, the same container work as one ephemeral node.
sh("docker", ["run", "--rm", "--init", ...mount, IMAGE]); // warm the page cache
const rawRun = median(Array.from({ length: N }, () => timed(() => sh("docker", ["run", "--rm", "--init", ...mount, IMAGE]))));

// Raw docker exec into a running container, the same work as one persistent node.
const id = sh("docker", ["run", "-d", "--init", ...mount, IMAGE, "sleep", "infinity"]).trim();
const rawExec = median(Array.from({ length: N }, () => timed(() => sh("docker", ["exec", "-e", "LEM_CONFIG_PATH=/run/llem/0123456789abcdef_config.json", id, "python3", "-m", "lem_harness"]))));
sh("docker", ["rm", "-f", id]);
rmSync(x, { recursive: true, force: true });

function lemBuild(nodes: number, extra: string[]): number {
  const dir = mkdtempSync(join(tmpdir(), "lem-bench-"));
  writeFileSync(join(dir, "lemfile.ts"), `import { defineLemfile, sweep } from "llenergymeasure";
export default defineLemfile({
  defaults: { model: "fake:ok" },
  experiments: sweep("n", { random_seed: [${Array.from({ length: nodes }, (_, i) => i).join(",")}] }),
  runners: { pytorch: "docker:${IMAGE}" },
});\n`);
  const ms = timed(() => sh(process.execPath, [LEM, "build", ...extra], { cwd: dir }));
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

function perNode(extra: string[]): number {
  const samples = [0, 1, 2].map(() => (lemBuild(2 + N, extra) - lemBuild(2, extra)) / N);
  return median(samples);
}
const ephemeral = perNode(["--container-strategy", "ephemeral"]);
const persistent = perNode(["--container-strategy", "persistent", "--yes"]);

const row = (name: string, raw: number, lem: number, target: string) =>
  console.log(`${name.padEnd(11)} ${raw.toFixed(0).padStart(8)} ms ${lem.toFixed(0).padStart(8)} ms ${(lem - raw).toFixed(0).padStart(8)} ms ${(lem / raw).toFixed(2).padStart(6)}×   ${target}`);
console.log(`per node, median (N=${N}); raw = the same container work without lem`);
console.log(`strategy         raw       lem     above raw  ratio   target`);
row("ephemeral", rawRun, ephemeral, "≤ 50 ms above raw docker run --rm");
row("persistent", rawExec, persistent, "≤ 1.3× raw docker exec");
