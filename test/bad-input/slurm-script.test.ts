// slurm.python and slurm.container with spaces in their paths (issue 17 §3): the job script that
// lem writes runs under sh as meant (no exit 127), and a container prefix that is no sh command
// prefix is exit 2 naming slurm.container before any job. No Slurm needed: the script is run by sh.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkJobScript, jobScript, SlurmRunner } from "../../src/exec/slurm/slurm-runner.js";
import type { SlurmSettings } from "../../src/config/user-config.js";
import { LemError } from "../../src/errors.js";
import { tempDir } from "../helpers/temp.js";

const settings = (more: Partial<SlurmSettings> = {}): SlurmSettings => ({ sbatch_args: [], python: "python3", shared_dir: ".lem/slurm", poll_max_seconds: 5, max_jobs: 100, arrays: true, ...more });

/** An executable at `path` that records its arguments (one a line) and $LEM_CONFIG_PATH in `log`. */
function recorder(path: string, log: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, `#!/bin/sh\nfor a in "$@"; do echo "arg:$a"; done > ${JSON.stringify(log)}\necho "config:$LEM_CONFIG_PATH" >> ${JSON.stringify(log)}\n`);
  chmodSync(path, 0o755);
}

/** Writes the job script into an exchange dir under `root` and runs it with sh, as a compute node would. */
function runJob(root: string, s: SlurmSettings) {
  const x = { dir: join(root, "shared dir", "llem-1"), configFile: "h_config.json", resultFile: "h_result.json", errorFile: "h_error.json" };
  mkdirSync(x.dir, { recursive: true });
  const script = join(x.dir, "job.sh");
  writeFileSync(script, jobScript(s, x, join(root, "harness dir")));
  return { x, run: spawnSync("sh", [script], { encoding: "utf8", cwd: root }) };
}

test("slurm.python with a space in its path: the job script runs that Python (not exit 127)", () => {
  const root = tempDir("lem slurm ");
  const python = join(root, "my env", "bin", "python");
  const log = join(root, "calls.log");
  recorder(python, log);
  const { x, run } = runJob(root, settings({ python }));
  assert.is(run.status, 0, run.stderr);
  assert.equal(readFileSync(log, "utf8").trim().split("\n"), ["arg:-m", "arg:lem_harness", `config:${join(x.dir, "h_config.json")}`]);
});

test("slurm.container with a quoted path holding a space: the prefix gets it as one word", () => {
  const root = tempDir("lem slurm ");
  const wrapper = join(root, "my tools", "run-in-container");
  const log = join(root, "calls.log");
  recorder(wrapper, log);
  const s = settings({ container: `'${wrapper}' exec --nv '${join(root, "my images", "lem.sif")}'`, python: "/opt/py 3/bin/python" });
  checkJobScript(s);
  const { run } = runJob(root, s);
  assert.is(run.status, 0, run.stderr);
  assert.equal(readFileSync(log, "utf8").trim().split("\n").slice(0, 6),
    ["arg:exec", "arg:--nv", `arg:${join(root, "my images", "lem.sif")}`, "arg:/opt/py 3/bin/python", "arg:-m", "arg:lem_harness"]);
});

test("slurm.container keeps sh expansion ($PWD), as its documented examples use", () => {
  const root = tempDir("lem-slurm-");
  const wrapper = join(root, "enroot");
  const log = join(root, "calls.log");
  recorder(wrapper, log);
  const { run } = runJob(root, settings({ container: `${wrapper} start --mount $PWD lem` }));
  assert.is(run.status, 0, run.stderr);
  assert.ok(readFileSync(log, "utf8").split("\n").includes(`arg:${root}`), "$PWD was expanded on the compute node");
});

test("slurm.container with an unbalanced quote: exit 2 naming slurm.container, before any job", () => {
  for (const container of [`apptainer exec --nv '/shared/my images/lem.sif`, `apptainer exec "lem.sif`]) {
    let error: unknown;
    try { new SlurmRunner(settings({ container }), ".lem-config.yaml", tempDir()); } catch (e) { error = e; }
    assert.ok(error instanceof LemError, `${container}: ${String(error)}`);
    assert.is(error.exitCode, 2);
    assert.match(error.message, /\.lem-config\.yaml: slurm\.container: not a shell command prefix/);
    assert.match(error.fix ?? "", /quote it as on a shell command line/);
  }
});

test.run();
