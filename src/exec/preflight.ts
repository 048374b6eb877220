import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { LemError } from "../errors.js";
import { resolvePython, describePython, PYTHON_CANDIDATES } from "../config/python.js";
import type { Backend } from "../lemfile/types.js";
import { REQUIREMENTS_FILE } from "../paths.js";

/** Why one backend's runner cannot work on this machine, and what makes it work. */
export interface RunnerProblem {
  backend: Backend;
  runner: string;
  message: string;
  fix: string;
}

export interface PreflightSettings {
  /** .lem-config.yaml's `python`, if any. */
  user: { python?: string };
  /** An NVIDIA GPU is here (lem's pytorch image then builds on CUDA, not on the offline base). */
  gpu: boolean;
  root?: string;
  /** `lem setup` makes lem's venv (which has pip) before it builds an image: no host pip needed yet. */
  pipFromVenv?: boolean;
  /** The pytorch models of this build that load with transformers (not synthetic:<preset>). */
  transformersModels?: readonly string[];
  /** The experiments of this build that set pytorch.device: cuda (see cudaExperiments). */
  cudaExperiments?: readonly string[];
}

/** Names of the experiments that ask for a GPU outright (pytorch.device: cuda; "auto" falls back to the CPU). */
export function cudaExperiments(nodes: readonly { names: string[]; config: { backend?: string; pytorch?: { device?: string } } }[]): string[] {
  return [...new Set(nodes.filter((n) => (n.config.backend ?? "pytorch") === "pytorch" && n.config.pytorch?.device === "cuda").map((n) => n.names[0]))];
}

/**
 * pytorch.device: cuda on a host where nvidia-smi finds no NVIDIA GPU: every such node would fail
 * in the harness. Only for a runner on this host (`onHost`); a Slurm job checks its own node.
 */
export function checkDevice(backend: Backend, runner: string, onHost: boolean, settings: PreflightSettings): RunnerProblem | undefined {
  const cuda = backend === "pytorch" && onHost ? settings.cudaExperiments ?? [] : [];
  if (settings.gpu || cuda.length === 0) return undefined;
  const names = cuda.length > 3 ? `${cuda.slice(0, 3).map((n) => `"${n}"`).join(", ")} and ${cuda.length - 3} more` : cuda.map((n) => `"${n}"`).join(", ");
  return {
    backend, runner,
    message: `pytorch.device is "cuda" in experiment ${names}, and no NVIDIA GPU was found here (nvidia-smi lists none)`,
    fix: `set pytorch.device to "auto" (the GPU where there is one, else the CPU) or "cpu" in the lemfile, or run on a machine with an NVIDIA GPU (\`lem doctor\` shows what lem finds)`,
  };
}

export const SETUP_FIX = "run `npx lem setup` (it installs what is missing and says where)";

/** True when `cmd` is an executable on PATH (no process started). */
export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => dir && existsSync(join(dir, cmd)));
}

/** The local runner's Python: it runs, finds torch and finds lem's harness. */
export function checkLocal(backend: Backend, settings: PreflightSettings): RunnerProblem | undefined {
  const py = resolvePython(settings.user);
  const named = py.source === "env:LEM_PYTHON" || py.source === ".lem-config.yaml";
  const problem = (message: string, fix: string): RunnerProblem => ({ backend, runner: "local", message, fix });
  const pinnedFix = `install torch for ${py.python} (${py.python} -m pip install -r ${REQUIREMENTS_FILE}), `
    + `or ${py.source === "env:LEM_PYTHON" ? "unset LEM_PYTHON" : "remove python from .lem-config.yaml"} and ${SETUP_FIX}`;
  if (!py.probe.found) {
    return named
      ? problem(`the local runner for ${backend} cannot run ${describePython(py)}: ${py.probe.error}`, pinnedFix)
      : problem(`the local runner for ${backend} needs Python 3 with torch, and there is no Python here (tried ${PYTHON_CANDIDATES.join(", ")})`, SETUP_FIX);
  }
  if (!py.probe.torch) {
    return named
      ? problem(`the local runner for ${backend} needs torch, and ${describePython(py)} has none`, pinnedFix)
      : problem(`the local runner for ${backend} needs torch, and no Python here has it (tried ${py.tried.map((t) => t.python).join(", ")})`,
        `${SETUP_FIX}, or point LEM_PYTHON at a Python with torch`);
  }
  const hf = backend === "pytorch" ? settings.transformersModels ?? [] : [];
  if (hf.length && !py.probe.transformers) {
    const models = hf.length > 1 ? `${hf[0]} and ${hf.length - 1} more` : hf[0];
    return problem(`the local runner for ${backend} needs transformers for ${models}, and ${describePython(py)} has none`,
      named ? pinnedFix.replace("install torch", "install transformers") : `${SETUP_FIX}: it makes lem's venv with transformers`);
  }
  if (!py.probe.harness) {
    return problem(`${describePython(py)} cannot import lem's harness (docker/harness in the lem package)`, "reinstall lem: its docker/harness folder is missing");
  }
  return undefined;
}

/** Docker: the daemon answers, and the image exists or lem has the means to build it. */
export async function checkDocker(backend: Backend, spec: string, settings: PreflightSettings): Promise<RunnerProblem | undefined> {
  const { docker, dockerBinary } = await import("./docker/docker-cli.js");
  const problem = (message: string, fix: string): RunnerProblem => ({ backend, runner: spec, message, fix });
  const version = await docker(["version", "--format", "{{.Server.Version}}"]).catch((e: Error) => ({ exitCode: 127, stdout: "", stderr: e.message }));
  if (version.exitCode !== 0) {
    const stderr = version.stderr;
    if (version.exitCode === 127 || /command not found|ENOENT|not found/i.test(stderr) && !/daemon/i.test(stderr)) {
      return problem(`the ${spec} runner for ${backend} needs Docker, and \`${dockerBinary()}\` is not installed`,
        "install Docker (Debian: apt-get install docker.io, then start dockerd), or use --runner local");
    }
    if (/permission denied/i.test(stderr)) {
      return problem(`the ${spec} runner for ${backend} needs Docker, and this user may not use the Docker socket`,
        "add your user to the docker group (sudo usermod -aG docker $USER, then log in again), or use --runner local");
    }
    return problem(`the ${spec} runner for ${backend} needs Docker, and the Docker daemon does not answer`,
      "start dockerd (or the Docker service), or use --runner local");
  }
  const { imageForSpec, imageDigest } = await import("./docker/images.js");
  const image = imageForSpec(backend, spec, { gpu: settings.gpu, root: settings.root });
  let baseMissing = false;
  try {
    if (await imageDigest(image.tag)) return undefined;
    if (image.external) {
      return problem(`image ${image.tag} (runner ${spec} for ${backend}) does not exist on this host, and lem never pulls`,
        `build or load ${image.tag} first (docker build -t ${image.tag} … or docker load), or use runner "docker" and lem builds its own image`);
    }
    baseMissing = Boolean(image.dependsOn?.script) && !(await imageDigest(image.dependsOn!.tag));
    const { wheelhouseDir } = await import("./docker/wheelhouse.js");
    const py = resolvePython(settings.user);
    if (image.wheels && !settings.pipFromVenv && !existsSync(wheelhouseDir()) && !py.probe.pip) {
      return problem(`lem's image for ${backend} installs wheels that pip fetches on this host, and ${describePython(py)} has no pip`,
        "run `npx lem setup` (it makes lem's venv, which has pip), or install pip for that Python (Debian: apt-get install python3-pip)");
    }
  } catch (error) {
    return problem(`the ${spec} runner for ${backend}: ${(error as Error).message}`, (error as LemError).fix ?? "run `lem doctor`");
  }
  // lem builds a missing image itself; only the offline Debian base needs more than Docker to build.
  if (baseMissing) {
    const base = image.dependsOn!.tag;
    if (process.getuid?.() !== 0) {
      return problem(`lem's image for ${backend} builds on an offline Debian base (${base}), and building that needs root (debootstrap)`,
        "run `sudo npx lem setup` once (it builds the images), or use --runner local");
    }
    if (!onPath("debootstrap") && !onPath("apt-get")) {
      return problem(`building lem's offline Debian base (${base}) needs debootstrap, which is not installed`, "install debootstrap, or use --runner local");
    }
  }
  return undefined;
}
