// Malformed .lem-config.yaml settings and command lines: exit 2, naming the file and field (or
// the flag), no stack trace, the measured results untouched.
import * as assert from "uvu/assert";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runCorpus, withExperiment, type Case } from "./corpus.js";

const CONFIG = /\.lem-config\.yaml/;
const yaml = (text: string) => ({ ".lem-config.yaml": text });
const BROKEN_LEMFILE = `import { defineLemfile } from "llenergymeasure";\nexport default defineLemfile({ experiments: [ });\n`;

const cases: Case[] = [
  // ---- .lem-config.yaml ----
  { name: "yaml: not YAML", files: yaml("jobs: [1, 2\n"), expect: { code: 2, file: CONFIG, stderr: [/not valid YAML \(line \d+\)/] } },
  { name: "yaml: a list, not settings", files: yaml("- jobs\n- 2\n"), expect: { code: 2, file: CONFIG, stderr: [/\(top level\): expected object/] } },
  { name: "yaml: jobs 0", files: yaml("jobs: 0\n"), expect: { code: 2, file: CONFIG, stderr: [/jobs: must be >= 1, got 0/] } },
  { name: "yaml: jobs -1", files: yaml("jobs: -1\n"), expect: { code: 2, file: CONFIG, stderr: [/jobs: must be >= 1, got -1/] } },
  { name: "yaml: jobs 1.5", files: yaml("jobs: 1.5\n"), expect: { code: 2, file: CONFIG, stderr: [/jobs: expected integer, got 1\.5/] } },
  { name: "yaml: jobs abc", files: yaml("jobs: abc\n"), expect: { code: 2, file: CONFIG, stderr: [/jobs: expected integer, got "abc"/] } },
  { name: "yaml: a typo'd key", files: yaml("job: 2\n"), expect: { code: 2, file: CONFIG, stderr: [/job: unknown field \(did you mean "jobs"\?\)/] } },
  { name: "yaml: an unknown docker strategy", files: yaml("docker:\n  strategy: sticky\n"), expect: { code: 2, file: CONFIG, stderr: [/docker\.strategy: expected one of "ephemeral", "persistent", got "sticky"/] } },
  { name: "yaml: timeout 0", files: yaml("timeout_seconds: 0\n"), expect: { code: 2, file: CONFIG, stderr: [/timeout_seconds: must be > 0, got 0/] } },
  { name: "yaml: shm_size in words", files: yaml("docker:\n  shm_size: 8 gigs\n"), expect: { code: 2, file: CONFIG, stderr: [/docker\.shm_size: must match pattern/] } },
  { name: "yaml: an unknown runner", files: yaml("runners:\n  pytorch: k8s\n"), expect: { code: 2, file: CONFIG, stderr: [/runners\.pytorch: must match pattern/] } },
  { name: "yaml: a secret that is no variable name", files: yaml("docker:\n  secrets: [bad-name]\n"), expect: { code: 2, file: CONFIG, stderr: [/docker\.secrets\.0: must match pattern/] } },
  { name: "yaml: a health threshold above 100", files: yaml("docker:\n  health_check:\n    gpu_memory_threshold_pct: 150\n"), expect: { code: 2, file: CONFIG, stderr: [/docker\.health_check\.gpu_memory_threshold_pct: must be <= 100, got 150/] } },
  { name: "yaml: results_dir is a file", files: { ...yaml("results_dir: notes.txt\n"), "notes.txt": "a file\n" },
    expect: { code: 2, file: CONFIG, stderr: [/results_dir: .*notes\.txt is a file, expected a folder/] } },

  { name: "yaml: a negative grid_intensity", files: yaml("grid_intensity: -5\n"), args: ["report", "--out", "lem-report"],
    expect: { code: 2, file: CONFIG, stderr: [/grid_intensity: must be >= 0, got -5/] } },
  { name: "yaml: grid_intensity in words", files: yaml("grid_intensity: high\n"), args: ["report", "--out", "lem-report"],
    expect: { code: 2, file: CONFIG, stderr: [/grid_intensity: expected number, got "high"/] } },
  { name: "yaml: grid_intensity with a unit", files: yaml("grid_intensity: 250 g/kWh\n"), args: ["report", "--out", "lem-report"],
    expect: { code: 2, file: CONFIG, stderr: [/grid_intensity: expected number, got "250 g\/kWh"/] } },

  // ---- command lines ----
  { name: "flag: --grid-intensity=-5", args: ["report", "--out", "lem-report", "--grid-intensity=-5"],
    expect: { code: 2, file: null, stderr: [/--grid-intensity: expected a number ≥ 0, got "-5"/], check: (_, dir) => assert.not.ok(existsSync(join(dir, "lem-report")), "no report written") } },
  { name: "flag: --grid-intensity abc", args: ["report", "--out", "lem-report", "--grid-intensity", "abc"],
    expect: { code: 2, file: null, stderr: [/--grid-intensity: expected a number ≥ 0, got "abc"/] } },
  { name: "flag: --grid-intensity wins, but a bad one in .lem-config.yaml is still refused", files: yaml("grid_intensity: -1\n"), args: ["report", "--out", "lem-report", "--grid-intensity", "200"],
    expect: { code: 2, file: CONFIG, stderr: [/grid_intensity: must be >= 0, got -1/] } },
  { name: "flag: --jobs 0", args: ["build", "--jobs", "0"], expect: { code: 2, file: null, stderr: [/--jobs: expected a whole number ≥ 1, got "0"/] } },
  { name: "flag: --jobs=-1", args: ["build", "--jobs=-1"], expect: { code: 2, file: null, stderr: [/--jobs: expected a whole number ≥ 1, got "-1"/] } },
  { name: "flag: --jobs -1", args: ["build", "--jobs", "-1"], expect: { code: 2, file: null, stderr: [/--jobs/] } },
  { name: "flag: --jobs 1.5", args: ["build", "--jobs", "1.5"], expect: { code: 2, file: null, stderr: [/--jobs: expected a whole number ≥ 1, got "1\.5"/] } },
  { name: "flag: --jobs abc", args: ["build", "--jobs", "abc"], expect: { code: 2, file: null, stderr: [/--jobs: expected a whole number ≥ 1, got "abc"/] } },
  { name: "flag: --jobs 1e3", args: ["build", "--jobs", "1e3"], expect: { code: 2, file: null, stderr: [/--jobs: expected a whole number ≥ 1, got "1e3"/] } },
  { name: "flag: --jobs without a value", args: ["build", "--jobs"], expect: { code: 2, file: null, stderr: [/--jobs/] } },
  { name: "flag: --jobs is checked before the lemfile is loaded", source: BROKEN_LEMFILE, args: ["build", "--jobs", "0"],
    expect: { code: 2, file: null, stderr: [/--jobs: expected a whole number/], check: (r) => { if (/syntax error/.test(r.stderr)) throw new Error("the lemfile was loaded before --jobs was checked"); } } },
  // ---- issue 19: two nodes at once on one CPU or GPU ----
  { name: "flag: --jobs 2 with two nodes to measure on this machine", body: withExperiment(`{ name: "new", precision: "fp16" }`), args: ["build", "--jobs", "2"],
    expect: { code: 2, file: null, stderr: [/--jobs 2 would run 2 nodes at once on this machine's CPU and GPU/, /fix: use --jobs 1 .*--allow-shared-device/] } },
  { name: "yaml: jobs 2 with two nodes to measure on this machine", body: withExperiment(`{ name: "new", precision: "fp16" }`), files: yaml("jobs: 2\n"), args: ["build"],
    expect: { code: 2, file: CONFIG, stderr: [/\.lem-config\.yaml: jobs: 2 would run 2 nodes at once/, /--allow-shared-device/] } },
  { name: "flag: --shard 0/2", args: ["build", "--shard", "0/2", "--dry-run"], expect: { code: 2, file: null, stderr: [/--shard: expected I\/N with 1 ≤ I ≤ N, got "0\/2"/] } },
  { name: "flag: --shard abc", args: ["build", "--shard", "abc", "--dry-run"], expect: { code: 2, file: null, stderr: [/--shard: expected I\/N/] } },
  { name: "flag: --runner podman", args: ["build", "--runner", "podman"], expect: { code: 2, file: null, stderr: [/--runner: expected local, docker or slurm, got "podman"/] } },
  { name: "flag: --container-strategy sticky", args: ["build", "--container-strategy", "sticky"], expect: { code: 2, file: null, stderr: [/--container-strategy: expected ephemeral or persistent, got "sticky"/] } },
  { name: "flag: an unknown flag", args: ["status", "--frobnicate"], expect: { code: 2, file: null, stderr: [/Unknown option '--frobnicate'/] } },
  { name: "flag: --lemfile that is not there", args: ["status", "--lemfile", "nope.ts"], expect: { code: 2, file: /nope\.ts/, stderr: [/no lemfile here/] } },
  { name: "flag: --lemfile that is a folder", args: ["status", "--lemfile", "results"], expect: { code: 2, file: /results/, stderr: [/not a file/] } },
  { name: "flag: a selector that matches nothing (status)", args: ["status", "zzz"], expect: { code: 2, file: null, stderr: [/no experiment matches "zzz"/] } },
  { name: "flag: a selector that matches nothing (build)", args: ["build", "zzz", "--dry-run"], expect: { code: 2, file: null, stderr: [/no experiment matches "zzz"/] } },
  { name: "flag: an unknown command", args: ["bulid"], expect: { code: 2, file: null, stderr: [/unknown command "bulid"/] } },
  { name: "flag: --skip-invalid does not skip an explicit typo", body: withExperiment(`{ name: "a", precison: "fp32" }`), args: ["build", "--dry-run", "--skip-invalid"],
    expect: { code: 2, stderr: [/experiment "a": precison: unknown field/] } },

  // ---- issue 17: flags and paths that used to pass silently or print a stack ----
  { name: "flag: --shard-hashes empty (an unset CI variable)", args: ["build", "--shard", "1/1", "--shard-hashes", ""],
    expect: { code: 2, file: null, stderr: [/--shard-hashes: no config hash in ""/, /fix: pass the hashes field/] } },
  { name: "flag: --shard-hashes of separators only", args: ["build", "--shard", "1/1", "--shard-hashes", ", ,"],
    expect: { code: 2, file: null, stderr: [/--shard-hashes: no config hash in ", ,"/] } },
  { name: "flag: --gpus with a UUID prefix two GPUs share", args: ["build", "--dry-run", "--gpus", "GPU-aaaa"],
    env: { LEM_GPU_INVENTORY: "0:GPU-aaaa1111-0000,1:GPU-aaaa2222-0000" },
    expect: { code: 2, file: null, stderr: [/--gpus: "GPU-aaaa" matches 2 GPUs: 0 \(GPU-aaaa1111-0000\), 1 \(GPU-aaaa2222-0000\)/, /fix: give more of the UUID/] } },
  { name: "yaml: gpus with a UUID prefix two GPUs share", files: yaml("gpus: GPU-aaaa\n"), args: ["build", "--dry-run"],
    env: { LEM_GPU_INVENTORY: "0:GPU-aaaa1111-0000,1:GPU-aaaa2222-0000" },
    expect: { code: 2, file: CONFIG, stderr: [/gpus: "GPU-aaaa" matches 2 GPUs/] } },
  { name: "matrix: $GITHUB_OUTPUT is a folder", files: { "gh-out/.keep": "" }, args: ["matrix", "--github-output", "matrix"], env: { GITHUB_OUTPUT: "gh-out" },
    expect: { code: 2, file: /gh-out/, stderr: [/\$GITHUB_OUTPUT \(gh-out\) is a folder, not a file/], check: (_, dir) => assert.equal(readdirSync(join(dir, "gh-out")), [".keep"]) } },
  { name: "matrix: $GITHUB_OUTPUT does not exist", args: ["matrix", "--github-output", "matrix"], env: { GITHUB_OUTPUT: "gone/output.txt" },
    expect: { code: 2, file: /gone\/output\.txt/, stderr: [/does not exist/], check: (_, dir) => assert.not.ok(existsSync(join(dir, "gone")), "nothing was created") } },
  { name: "report: --out is a file", files: { "notes.txt": "mine\n" }, args: ["report", "--out", "notes.txt"],
    expect: { code: 2, file: /notes\.txt/, stderr: [/--out: .*notes\.txt is a file, not a folder/], check: (_, dir) => assert.is(readFileSync(join(dir, "notes.txt"), "utf8"), "mine\n") } },
  { name: "report: --out below a file", files: { "notes.txt": "mine\n" }, args: ["report", "--out", "notes.txt/report"],
    expect: { code: 2, file: /notes\.txt\/report/, stderr: [/a file is in the way above it/], check: (_, dir) => assert.is(readFileSync(join(dir, "notes.txt"), "utf8"), "mine\n") } },
];

runCorpus("bad settings and flags", cases);
