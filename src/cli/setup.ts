import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { parse } from "./args.js";
import { out, err } from "./output.js";
import { loadProject, projectRunners, type Project } from "../project/project.js";
import { LemError } from "../errors.js";
import { forgetPythonProbes, lemVenv, probePython, PYTHON_CANDIDATES, resolvePython } from "../config/python.js";
import { transformersModels } from "../config/models.js";
import { checkDevice, checkDocker, cudaExperiments } from "../exec/preflight.js";
import { makeVenv } from "../exec/python-venv.js";
import { listenForInterrupts, untilInterrupted } from "../exec/interrupt-signals.js";
import { policyOf } from "../exec/runner-kinds.js";
import { APT_COMMAND, APT_PACKAGES, hostFacts, missingPackages, planLocal, type SetupStep } from "../exec/setup-plan.js";
import { PACKAGE_ROOT } from "../paths.js";
import { describeEnergy, raplSummary } from "../exec/energy-source.js";
import type { Backend } from "../lemfile/types.js";

export const SETUP_HELP = `lem setup — make this machine able to run the lemfile's experiments

  For each backend the lemfile uses, checks the runner it resolves to (as lem build would) and
  installs what is missing:
    local   a Python with torch, and transformers if a model is not synthetic:<preset>
            (LEM_PYTHON, .lem-config.yaml python, lem's venv, python3, /usr/bin/python3);
            if none, makes lem's venv (LEM_VENV, default ~/.cache/lem/venv-<hash>) with the
            pinned docker/harness/requirements.txt, using pip as this machine has it set up;
            Debian as root: apt-get installs python3-venv first where venv needs it, and
            falls back to ${APT_PACKAGES.join(" ")} where there is no Python at all
    docker  builds lem's image for the backend (on a CPU host, first an offline Debian base)
  A config with pytorch.device: cuda needs an NVIDIA GPU on this host (local and docker
  runners): where nvidia-smi finds none, setup (and build) stop with exit 2 and say so.
  A second run has nothing to do.

  --lemfile PATH           the lemfile (default ./lemfile.ts)
  --runner local|docker    set up this runner for every backend
  --venv                   make lem's venv for the local runner even where another Python
                           would do (what CI does, so it tests the pinned requirements)
  --dry-run                say what would be installed, and where, without doing it
`;

export async function setupCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    lemfile: { type: "string" }, runner: { type: "string" }, venv: { type: "boolean" }, "dry-run": { type: "boolean" }, help: { type: "boolean", short: "h" },
  }, "setup");
  if (values.help) { out(SETUP_HELP); return 0; }
  const project = await loadProject(values.lemfile);
  const backends = [...new Set(project.nodes.map((n) => n.config.backend))];
  const steps = await planSetup(project, backends, values.runner, Boolean(values.venv));
  // A blocked step is the error below; the others are what setup found or does.
  for (const step of steps) if (step.kind !== "blocked") out(describe(step, Boolean(values["dry-run"])));
  // Energy is not setup's to grant (RAPL's files are root's, reset at each boot), but it says what is missing and the fix.
  const energy = describeEnergy({ gpu: project.host.gpu, rapl: raplSummary() });
  out(`energy: ${energy.value}${energy.fix ? `\n  fix: ${energy.fix}` : ""}`);

  const blocked = steps.filter((s): s is Extract<SetupStep, { kind: "blocked" }> => s.kind === "blocked");
  if (blocked.length === 1) throw new LemError(`setup cannot make ${blocked[0].backend} work here: ${blocked[0].message}`, blocked[0].fix, 2);
  if (blocked.length > 1) {
    throw new LemError(`setup cannot make ${blocked.map((b) => b.backend).join(", ")} work here`, "see each backend's fix", 2,
      blocked.map((b) => `${b.backend}: ${b.message}; fix: ${b.fix}`));
  }
  const todo = steps.filter((s) => s.kind !== "ready");
  if (todo.length === 0) { out("nothing to do: `npx lem build` can run every experiment here"); return 0; }
  if (values["dry-run"]) { out("dry run: nothing installed (run without --dry-run to do it)"); return 0; }

  // Two backends on the local runner share one Python: make it once.
  const done = new Set<string>();
  for (const step of todo) {
    const key = step.kind === "venv" || step.kind === "apt" ? "python" : `${step.kind}:${step.backend}`;
    if (done.has(key)) continue;
    done.add(key);
    if (step.kind === "apt") await installDebianTorch();
    if (step.kind === "venv") await installVenv(step);
    if (step.kind === "image" && !(await buildImage(project, step.backend, step.runner))) { err("lem setup: interrupted"); return 130; }
  }
  out("done: `npx lem build` can run every experiment here");
  return 0;
}

async function planSetup(project: Project, backends: Backend[], cli: string | undefined, forceVenv: boolean): Promise<SetupStep[]> {
  const resolved = await projectRunners(project, backends, cli);
  const host = hostFacts();
  const needs = { transformers: transformersModels(project.nodes.map((n) => n.config)).length > 0 };
  // The Pythons lem's venv could be made from: probed once (probes are cached) for every step below.
  const bases = PYTHON_CANDIDATES.map((python) => probePython(python));
  const steps: SetupStep[] = [];
  const device = { user: project.user, gpu: Boolean(project.host.gpu), cudaExperiments: cudaExperiments(project.nodes) };
  for (const [backend, choice] of resolved) {
    // No install gives this host a GPU: a config that demands one is blocked, whatever the runner has.
    const noGpu = checkDevice(backend, choice.spec, policyOf(choice).onHost, device);
    if (noGpu) { steps.push({ kind: "blocked", backend, runner: choice.spec, message: noGpu.message, fix: noGpu.fix }); continue; }
    if (choice.spec === "local") {
      steps.push(planLocal(backend, resolvePython(project.user), host, lemVenv(), { needs: backend === "pytorch" ? needs : { transformers: false }, bases, forceVenv }));
      continue;
    }
    if (!policyOf(choice).onHost) {
      // A cluster's compute nodes are not this host's to set up: lem checks the cluster answers, and each job its node's Python.
      const problem = await policyOf(choice).check(backend, choice.spec, { user: project.user, gpu: Boolean(project.host.gpu) });
      steps.push(problem ? { kind: "blocked", backend, runner: choice.spec, message: problem.message, fix: problem.fix }
        : { kind: "ready", backend, runner: choice.spec, detail: "the cluster answers; each job checks its compute node's Python (slurm.python)" });
      continue;
    }
    const problem = await checkDocker(backend, choice.spec, { user: project.user, gpu: Boolean(project.host.gpu), root: PACKAGE_ROOT, pipFromVenv: true });
    if (problem) { steps.push({ kind: "blocked", backend, runner: choice.spec, message: problem.message, fix: problem.fix }); continue; }
    const { imageForSpec, imageDigest } = await import("../exec/docker/images.js");
    const image = imageForSpec(backend, choice.spec, { gpu: Boolean(project.host.gpu), root: PACKAGE_ROOT });
    const present = await imageDigest(image.tag);
    const { wheelhouseDir } = await import("../exec/docker/wheelhouse.js");
    if (!present && image.wheels && !existsSync(wheelhouseDir()) && !resolvePython(project.user).probe.pip) {
      // The image's wheels are fetched by a host pip: lem's venv brings one.
      steps.push(planLocal(backend, resolvePython(project.user), host, lemVenv(), { needs: { transformers: false }, bases, forceVenv: true,
        reason: `lem's image installs wheels fetched by a pip on this host, and ${resolvePython(project.user).python} has none` }));
    }
    const base = image.dependsOn && !(await imageDigest(image.dependsOn.tag)) ? `, first the offline Debian base ${image.dependsOn.tag} (debootstrap)` : "";
    steps.push(present
      ? { kind: "ready", backend, runner: choice.spec, detail: `image ${image.tag} is built` }
      : { kind: "image", backend, runner: choice.spec, tag: image.tag, detail: `builds Docker image ${image.tag}${base}; it lives in Docker's image store (docker images)` });
  }
  return steps;
}

function describe(step: SetupStep, dryRun: boolean): string {
  const head = `${step.backend.padEnd(8)} ${step.runner.padEnd(7)}`;
  switch (step.kind) {
    case "ready": return `${head} ready: ${step.detail}`;
    case "blocked": return `${head} cannot set up: ${step.message}`;
    case "apt": return `${head} ${dryRun ? "would run" : "runs"}: ${APT_COMMAND}\n${"".padEnd(17)} ${step.detail}`;
    case "venv": return `${head} ${dryRun ? "would make" : "makes"} lem's venv: ${step.detail}`;
    case "image": return `${head} ${dryRun ? "would build" : "builds"}: ${step.detail}`;
  }
}

async function installApt(packages: readonly string[]) {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // apt's own progress is the user's: it goes straight to the terminal.
  for (const args of [["update"], ["install", "-y", "--no-install-recommends", ...packages]]) {
    out(`$ apt-get ${args.join(" ")}`);
    const r = spawnSync("apt-get", args, { env, stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) throw new LemError(`apt-get ${args[0]} failed (exit ${r.status ?? r.signal})`, "check network access to the Debian mirror and the output above, then run `npx lem setup` again", 1);
  }
  forgetPythonProbes();
}

/** The fallback where no venv can be made: Debian's python3 with torch. */
async function installDebianTorch() {
  await installApt(APT_PACKAGES);
  const py = resolvePython({});
  if (!py.probe.torch) throw new LemError(`installed ${APT_PACKAGES.join(" ")}, yet no Python here finds torch`, "run `lem doctor` to see what lem finds", 1);
  out(`installed: ${py.python}, Python ${py.probe.version} with torch`);
}

/** lem's venv: python3-venv first where Debian needs it, then the pinned requirements; pip's lines stream as they come. */
async function installVenv(step: Extract<SetupStep, { kind: "venv" }>) {
  if (step.aptFirst.length) await installApt(step.aptFirst);
  const venv = lemVenv();
  const started = performance.now();
  out(`$ ${step.base} -m venv ${venv.dir} && ${venv.python} -m pip install -r docker/harness/requirements.txt`);
  // Ctrl-C stops pip; setup listens for SIGINT only (SIGTERM ends lem at once, bin/lem.js).
  await untilInterrupted((signal) => makeVenv(venv, step.base, { signal, onLine: (line) => out(`  ${line}`) }), ["SIGINT"]);
  forgetPythonProbes();
  const probe = probePython(venv.python);
  const missing = missingPackages(probe, { transformers: true });
  if (missing || !probe.harness) throw new LemError(`made ${venv.dir}, yet its Python ${missing ? `finds no ${missing}` : "cannot import lem's harness"}`, "run `lem doctor` to see what lem finds", 1);
  out(`installed: lem's venv ${venv.dir} (Python ${probe.version}, torch and transformers) in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** Builds lem's image for a backend; false when interrupted. */
async function buildImage(project: Project, backend: Backend, spec: string): Promise<boolean> {
  const { imageForSpec, ensureImage } = await import("../exec/docker/images.js");
  const interrupts = listenForInterrupts({ signals: ["SIGINT"] });
  try {
    const image = await ensureImage(imageForSpec(backend, spec, { gpu: Boolean(project.host.gpu), root: PACKAGE_ROOT }), {
      signal: interrupts.stop, python: resolvePython(project.user).python,
      onEvent: (e) => (e.state === "building" ? out(`building ${e.name} (${e.tag}) …`) : e.state === "built" ? out(`built ${e.tag} in ${e.seconds?.toFixed(0)} s`) : undefined),
    });
    out(`image ready: ${image.tag} (${image.digest.slice(0, 19)})`);
    return true;
  } catch (error) {
    if (interrupts.stop.aborted) return false;
    throw error;
  } finally {
    interrupts.dispose();
  }
}
