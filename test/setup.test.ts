// A fresh machine: `lem setup` makes the lemfile's runners work, and `lem build` checks them before
// any node starts. One Python resolution (LEM_PYTHON > .lem-config.yaml > one with torch) everywhere.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { TempProject } from "./helpers/project.js";
import { tempDir } from "./helpers/temp.js";
import { pythonWithTorch } from "./helpers/python.js";
import { lemVenv, resolvePython, type PythonProbe, type ResolvedPython } from "../src/config/python.js";
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
    assert.match(r.stderr, /fix: install the harness's requirements for it \(.*-m pip install -r .*requirements\.txt/);
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

  test("lem setup says what energy it will read, and names the fix where it will read none", async () => {
    const tree = tempDir("powercap-");
    mkdirSync(join(tree, "intel-rapl:0"));
    writeFileSync(join(tree, "intel-rapl:0", "name"), "package-0\n");
    writeFileSync(join(tree, "intel-rapl:0", "energy_uj"), "1000\n");
    const readable = await new TempProject(EXAMPLE, { LEM_POWERCAP_ROOT: tree }).run("setup", "--dry-run");
    assert.is(readable.code, 0, readable.stdout + readable.stderr);
    assert.match(readable.stdout, /^energy: CPU runs: RAPL \(1 package, no DRAM zone\)/m);
    const none = await new TempProject(EXAMPLE, { LEM_POWERCAP_ROOT: join(tree, "absent") }).run("setup", "--dry-run");
    assert.is(none.code, 0, none.stdout + none.stderr);
    assert.match(none.stdout, /^energy: not measurable here: .*null/m);
    assert.match(none.stdout, /^ {2}fix: .*RAPL/m);
  });
}

test("lem setup for the slurm runner checks the cluster, not Docker: no sbatch here is its own fix", async () => {
  const project = new TempProject(EXAMPLE, { PATH: tempDir("empty-path-") });
  const r = await project.run("setup", "--runner", "slurm", "--dry-run");
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /`sbatch` does not run here/);
  assert.not.match(r.stdout + r.stderr, /Docker/);
  assert.not.match(r.stderr, STACK);
});

test("resolvePython: LEM_PYTHON > .lem-config.yaml > lem's finished venv > the first candidate with torch", () => {
  const noVenv = { LEM_VENV: join(tempDir(), "no-venv") };
  assert.equal(pick(resolvePython({ python: NO_TORCH }, { ...noVenv, LEM_PYTHON: "/nonexistent/python" })), ["/nonexistent/python", "env:LEM_PYTHON", false]);
  assert.equal(pick(resolvePython({ python: NO_TORCH }, noVenv)), [NO_TORCH, ".lem-config.yaml", true]);
  const auto = resolvePython({}, noVenv);
  assert.is(auto.source, "auto");
  assert.is(auto.python, (auto.tried.find((t) => t.torch) ?? auto.tried[0]).python, "the first candidate with torch, else python3");
  // A venv is used once its marker holds the current requirements' key, never half-made.
  const dir = join(tempDir(), "venv");
  mkdirSync(join(dir, "bin"), { recursive: true });
  writeFileSync(join(dir, "bin", "python"), `#!/bin/sh\nexec ${withTorch ?? "python3"} "$@"\n`, { mode: 0o755 });
  assert.is(resolvePython({}, { LEM_VENV: dir }).source, "auto", "no marker: not used");
  const venv = lemVenv({ LEM_VENV: dir });
  writeFileSync(venv.marker, "0123456789ab\n");
  assert.is(resolvePython({}, { LEM_VENV: dir }).source, "auto", "a marker of other requirements: not used");
  writeFileSync(venv.marker, `${venv.key}\n`);
  assert.equal(pick(resolvePython({}, { LEM_VENV: dir })), [venv.python, "venv", true]);
  assert.is(resolvePython({ python: NO_TORCH }, { LEM_VENV: dir }).source, ".lem-config.yaml", "a named Python comes first");
  function pick(r: ResolvedPython) { return [r.python, r.source, r.probe.found]; }
});

/** A resolution as resolvePython returns it, for the pure planner. */
const probe = (python: string, facts: Partial<PythonProbe> = {}): PythonProbe =>
  ({ python, found: true, torch: false, transformers: false, venv: true, pip: true, harness: true, version: "3.11.2", ...facts });
const resolved = (source: ResolvedPython["source"], facts: Partial<PythonProbe>): ResolvedPython =>
  ({ python: "python3", source, probe: probe("python3", facts), tried: [probe("python3", facts), probe("/usr/bin/python3", facts)] });
const VENV = { dir: "/cache/lem/venv-abc", python: "/cache/lem/venv-abc/bin/python", key: "abc", marker: "/cache/lem/venv-abc/.lem-requirements" };
const TORCH_ONLY = { needs: { transformers: false }, bases: [probe("python3")] };
const root = { root: true, apt: true };

test("setup's plan for the local runner: ready where the Python has what the models need, else lem's venv", () => {
  assert.is(planLocal("pytorch", resolved("auto", { torch: true }), root, VENV, TORCH_ONLY).kind, "ready");
  // Synthetic models need torch alone; a Hugging Face model needs transformers too.
  const hf = planLocal("pytorch", resolved("auto", { torch: true }), root, VENV, { ...TORCH_ONLY, needs: { transformers: true } });
  assert.ok(hf.kind === "venv" && hf.base === "python3" && hf.dir === VENV.dir && hf.aptFirst.length === 0, JSON.stringify(hf));
  assert.match(hf.detail, /no Python here has transformers \(tried python3, \/usr\/bin\/python3\).*venv \/cache\/lem\/venv-abc/);
  const none = planLocal("pytorch", resolved("auto", {}), { root: false, apt: false }, VENV, TORCH_ONLY);
  assert.ok(none.kind === "venv" && /no Python here has torch/.test(none.detail), JSON.stringify(none));
  // --venv makes it even where another Python would do; a finished venv is then ready.
  assert.is(planLocal("pytorch", resolved("auto", { torch: true }), root, VENV, { ...TORCH_ONLY, forceVenv: true }).kind, "venv");
  assert.is(planLocal("pytorch", resolved("venv", { torch: true, transformers: true }), root, VENV, { ...TORCH_ONLY, forceVenv: true }).kind, "ready");
});

test("setup's plan where no Python can make a venv: apt's python3-venv as root, Debian's torch where there is no Python, else the fix", () => {
  const noVenv = { ...TORCH_ONLY, bases: [probe("python3", { venv: false })] };
  const apt = planLocal("pytorch", resolved("auto", {}), root, VENV, noVenv);
  assert.ok(apt.kind === "venv" && apt.aptFirst.join() === "python3-venv", JSON.stringify(apt));
  const user = planLocal("pytorch", resolved("auto", {}), { root: false, apt: true }, VENV, noVenv);
  assert.ok(user.kind === "blocked" && /sudo apt-get install -y python3 python3-venv/.test(user.fix), JSON.stringify(user));
  const noPython = { ...TORCH_ONLY, bases: [probe("python3", { found: false }), probe("/usr/bin/python3", { found: false })] };
  const fallback = planLocal("pytorch", resolved("auto", { found: false }), root, VENV, noPython);
  assert.ok(fallback.kind === "apt", JSON.stringify(fallback));
  if (fallback.kind === "apt") assert.equal([...fallback.packages], [...APT_PACKAGES]);
  // Debian's torch has no transformers: no fallback for a Hugging Face model.
  const hf = planLocal("pytorch", resolved("auto", { found: false }), root, VENV, { ...noPython, needs: { transformers: true } });
  assert.is(hf.kind, "blocked");
  const other = planLocal("pytorch", resolved("auto", {}), { root: true, apt: false }, VENV, noVenv);
  assert.ok(other.kind === "blocked" && /Python 3\.11 with its venv module.*LEM_PYTHON/.test(other.fix), JSON.stringify(other));
});

test("setup's plan never replaces a Python the user named, and needs the harness", () => {
  const named = planLocal("pytorch", resolved("env:LEM_PYTHON", {}), root, VENV, TORCH_ONLY);
  assert.ok(named.kind === "blocked" && /has no torch/.test(named.message) && /requirements\.txt.*unset LEM_PYTHON/.test(named.fix), JSON.stringify(named));
  const config = planLocal("pytorch", resolved(".lem-config.yaml", { torch: true }), root, VENV, { ...TORCH_ONLY, needs: { transformers: true } });
  assert.ok(config.kind === "blocked" && /has no transformers/.test(config.message) && /remove python from \.lem-config\.yaml/.test(config.fix), JSON.stringify(config));
  const noHarness = planLocal("pytorch", resolved("auto", { torch: true, harness: false }), root, VENV, TORCH_ONLY);
  assert.ok(noHarness.kind === "blocked" && /reinstall lem/.test(noHarness.fix));
});

test("lem setup --venv with an index that never answers fails fast with the fix, keeps no half-made venv, and never prints the index's password", async () => {
  // A server that accepts connections and never answers: pip's default would retry it for minutes.
  const sockets: Socket[] = [];
  const server = createServer((socket) => { sockets.push(socket); });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const venv = join(tempDir(), "venv");
  try {
    const project = new TempProject(EXAMPLE, { LEM_PYTHON: "", LEM_VENV: venv, PIP_INDEX_URL: `http://lem:s3cret@127.0.0.1:${port}/simple` });
    const started = performance.now();
    const r = await project.run("setup", "--venv");
    const seconds = (performance.now() - started) / 1000;
    const all = r.stdout + r.stderr;
    assert.is(r.code, 1, all);
    assert.ok(/pip cannot reach/.test(r.stderr), all.slice(-3000));
    assert.match(r.stderr, /pip cannot reach a package index it is set to use \(ReadTimeoutError for \/simple\/torch\/; indexes: http:\/\/\*\*\*@127\.0\.0\.1/);
    assert.match(r.stderr, /fix: point pip at an index or mirror it can reach \(PIP_INDEX_URL=URL/);
    assert.not.match(all, /s3cret/);
    assert.not.match(all, STACK);
    // One read timeout (pip's --timeout 20) and the venv itself: not pip's default 5 retries.
    assert.ok(seconds < 90, `failed after ${seconds.toFixed(0)} s`);
    assert.not.ok(existsSync(venv), "the half-made venv is removed");
  } finally {
    for (const socket of sockets) socket.destroy();
    server.close();
  }
});

test.run();
