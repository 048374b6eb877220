// A fresh machine: `lem setup` makes the lemfile's runners work, and `lem build` checks them before
// any node starts. One Python resolution (LEM_PYTHON > .lem-config.yaml > one with torch) everywhere.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TempProject } from "./helpers/project.js";
import { tempDir } from "./helpers/temp.js";
import { pythonWithTorch } from "./helpers/python.js";
import { resolvePython, type ResolvedPython } from "../src/config/python.js";
import { planLocal, APT_PACKAGES } from "../src/exec/setup-plan.js";

const STACK = /^\s+at .+:\d+:\d+\)?$/m;
const EXAMPLE = `{ experiments: [{ name: "a", model: "synthetic:tiny", n: 2 }, { name: "b", model: "synthetic:tiny", n: 3 }], runners: { pytorch: "local" } }`;

/** A real Python that cannot see torch on any machine: -S drops site-packages, where torch lives. */
function pythonWithoutTorch(): string {
  const file = join(tempDir(), "python-without-torch");
  writeFileSync(file, `#!/bin/sh\nexec ${pythonWithTorch() ?? "python3"} -S "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}
const NO_TORCH = pythonWithoutTorch();

/** A docker CLI whose daemon is down, as `docker` prints it. */
function dockerDaemonDown(): string {
  const file = join(tempDir(), "docker");
  writeFileSync(file, `#!/bin/sh\necho "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2\nexit 1\n`);
  chmodSync(file, 0o755);
  return file;
}

/** A build that must be refused before any node: exit 2, one message with the fix, nothing left behind. */
async function refusedBeforeAnyNode(body: string, env: NodeJS.ProcessEnv, ...patterns: RegExp[]) {
  const tmp = tempDir("lem-tmp-"); // the lem's own TMPDIR: where its exchange dirs would be
  const project = new TempProject(body, { ...env, TMPDIR: tmp });
  const r = await project.run("build");
  const all = r.stdout + r.stderr;
  assert.is(r.code, 2, all);
  for (const p of patterns) assert.match(r.stderr, p);
  assert.is((r.stderr.match(/^lem: /gm) ?? []).length, 1, `one message:\n${r.stderr}`);
  assert.not.match(all, /^(start|done|failed|skip\w*)\s+\S+ #\d|skipped/im, "no node started, failed or was skipped");
  assert.not.match(all, STACK);
  assert.equal(project.resultFiles(), []);
  assert.equal(readdirSync(tmp), [], "no exchange dir was made");
}

test("a local runner whose Python has no torch: build exits 2 before any node, names LEM_PYTHON and the fix", () =>
  refusedBeforeAnyNode(EXAMPLE, { LEM_PYTHON: NO_TORCH },
    /the local runner for pytorch needs torch, and .*python-without-torch \(LEM_PYTHON\) has none/,
    /fix: install torch for .*python-without-torch .*or unset LEM_PYTHON and run `npx lem setup`/));

test("a docker runner with the daemon down: build exits 2 before any node, with the fix", () =>
  refusedBeforeAnyNode(EXAMPLE.replace(`"local"`, `"docker"`), { LEM_DOCKER: dockerDaemonDown() },
    /the docker runner for pytorch needs Docker, and the Docker daemon does not answer \(runner from lemfile\)/,
    /fix: start dockerd .*or use --runner local/));

test("the Python named in .lem-config.yaml is the one build checks and doctor reports", async () => {
  const project = new TempProject(EXAMPLE, { LEM_PYTHON: "" });
  writeFileSync(join(project.dir, ".lem-config.yaml"), `python: ${NO_TORCH}\n`);
  const r = await project.run("build");
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /python-without-torch \(python in \.lem-config\.yaml\) has none/);
  assert.match(r.stderr, /remove python from \.lem-config\.yaml/);
  const doctor = await project.json<{ checks: { name: string; ok: boolean; value: string }[] }>("doctor");
  const py = doctor.checks.find((c) => c.name === "python + torch")!;
  assert.is(py.ok, false);
  assert.match(py.value, /python-without-torch \(python in \.lem-config\.yaml\)/);
});

test("--dry-run plans without checking runners", async () => {
  const project = new TempProject(EXAMPLE, { LEM_PYTHON: NO_TORCH });
  const r = await project.run("build", "--dry-run");
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /run\s+a #1/);
});

test("lem setup with a named Python that has no torch exits 2: it neither installs into it nor quietly uses another", async () => {
  const project = new TempProject(EXAMPLE, { LEM_PYTHON: NO_TORCH });
  for (const args of [["setup", "--dry-run"], ["setup"]]) {
    const r = await project.run(...args);
    assert.is(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /setup cannot make pytorch work here: .*python-without-torch \(LEM_PYTHON\) has no torch/);
    assert.match(r.stderr, /fix: install torch for it \(.*-m pip install torch/);
    assert.not.match(r.stderr, STACK);
  }
});

const withTorch = pythonWithTorch();
if (withTorch) {
  test("lem setup finds a Python with torch: nothing to do, twice (idempotent), and --dry-run says the same", async () => {
    const project = new TempProject(EXAMPLE);
    for (const args of [["setup"], ["setup"], ["setup", "--dry-run"]]) {
      const r = await project.run(...args);
      assert.is(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /pytorch\s+local\s+ready: .*python3? .*with torch/);
      assert.match(r.stdout, /nothing to do/);
    }
  });
}

test("resolvePython: LEM_PYTHON > .lem-config.yaml > the first candidate with torch", () => {
  assert.equal(pick(resolvePython({ python: NO_TORCH }, { LEM_PYTHON: "/nonexistent/python" })), ["/nonexistent/python", "env:LEM_PYTHON", false]);
  assert.equal(pick(resolvePython({ python: NO_TORCH }, {})), [NO_TORCH, ".lem-config.yaml", true]);
  const auto = resolvePython({}, {});
  assert.is(auto.source, "auto");
  if (withTorch) assert.ok(auto.probe.torch, `found one with torch among ${auto.tried.map((t) => t.python)}`);
  function pick(r: ResolvedPython) { return [r.python, r.source, r.probe.found]; }
});

/** A resolution as resolvePython returns it, for the pure planner. */
const resolved = (source: ResolvedPython["source"], facts: { found?: boolean; torch?: boolean; harness?: boolean }): ResolvedPython => {
  const probe = { python: "python3", found: true, torch: false, harness: true, version: "3.11.2", ...facts };
  return { python: "python3", source, probe, tried: [probe, { ...probe, python: "/usr/bin/python3" }] };
};

test("setup's plan for the local runner: ready, Debian's torch through apt as root, sudo or pip otherwise", () => {
  const root = { root: true, apt: true };
  assert.is(planLocal("pytorch", resolved("auto", { torch: true }), root).kind, "ready");
  const apt = planLocal("pytorch", resolved("auto", {}), root);
  assert.is(apt.kind, "apt");
  if (apt.kind === "apt") {
    assert.equal([...apt.packages], ["python3", "python3-torch", "python3-numpy", "libopenblas0-pthread"]);
    assert.match(apt.detail, /tried python3, \/usr\/bin\/python3.*\/usr\/bin\/python3.*dist-packages/);
  }
  const user = planLocal("pytorch", resolved("auto", {}), { root: false, apt: true });
  assert.ok(user.kind === "blocked" && /sudo apt-get update && sudo apt-get install -y --no-install-recommends python3 python3-torch/.test(user.fix), JSON.stringify(user));
  const other = planLocal("pytorch", resolved("auto", {}), { root: true, apt: false });
  assert.ok(other.kind === "blocked" && /pip install torch .*download\.pytorch\.org\/whl\/cpu.*LEM_PYTHON/.test(other.fix), JSON.stringify(other));
  const named = planLocal("pytorch", resolved("env:LEM_PYTHON", {}), root);
  assert.ok(named.kind === "blocked" && /unset LEM_PYTHON/.test(named.fix), "a named Python is never replaced by apt's");
  const noHarness = planLocal("pytorch", resolved("auto", { torch: true, harness: false }), root);
  assert.ok(noHarness.kind === "blocked" && /reinstall lem/.test(noHarness.fix));
  assert.is(APT_PACKAGES.length, 4);
});

test.run();
