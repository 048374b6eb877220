import { existsSync } from "node:fs";
import { describePython, type LemVenv, type PythonProbe, type ResolvedPython } from "../config/python.js";
import type { Backend } from "../lemfile/types.js";
import { onPath } from "./preflight.js";
import { REQUIREMENTS_FILE } from "../paths.js";

/** What `lem setup` does for one backend's runner. */
export type SetupStep =
  | { kind: "ready"; backend: Backend; runner: string; detail: string }
  | { kind: "venv"; backend: Backend; runner: "local"; base: string; dir: string; aptFirst: readonly string[]; detail: string }
  | { kind: "apt"; backend: Backend; runner: "local"; packages: readonly string[]; detail: string }
  | { kind: "image"; backend: Backend; runner: string; tag: string; detail: string }
  | { kind: "blocked"; backend: Backend; runner: string; message: string; fix: string };

/**
 * The fallback where no venv can be made: Debian's Python 3 with CPU torch (bookworm 1.13, trixie
 * 2.6), numpy, and the threaded OpenBLAS (25-40x faster matmul than the reference BLAS). It has no
 * transformers, so only synthetic:<preset> models run on it.
 */
export const APT_PACKAGES = ["python3", "python3-torch", "python3-numpy", "libopenblas0-pthread"] as const;
export const APT_COMMAND = `apt-get update && apt-get install -y --no-install-recommends ${APT_PACKAGES.join(" ")}`;
export const APT_WHERE = "Debian's /usr/bin/python3, with torch and numpy under /usr/lib/python3/dist-packages (about 1 GB; no transformers)";
/** Debian keeps ensurepip, which `python3 -m venv` needs, in its own package. */
export const VENV_APT_PACKAGES = ["python3-venv"] as const;
const VENV_WHAT = "torch, transformers and numpy as pinned in docker/harness/requirements.txt (about 1.2 GB)";

/** What this machine offers for installing a Python. */
export interface HostFacts {
  root: boolean;
  /** Debian-like: apt-get on PATH and /etc/debian_version. */
  apt: boolean;
}

export function hostFacts(): HostFacts {
  return { root: process.getuid?.() === 0, apt: onPath("apt-get") && existsSync("/etc/debian_version") };
}

/** What the local runner needs of its Python: transformers only where a config loads a Hugging Face model. */
export interface LocalNeeds {
  transformers: boolean;
}

/** The packages a probe lacks for these needs, in words: "torch", "transformers", "torch and transformers". */
export function missingPackages(probe: PythonProbe, needs: LocalNeeds): string | undefined {
  const missing = [probe.torch ? "" : "torch", needs.transformers && !probe.transformers ? "transformers" : ""].filter(Boolean);
  return missing.length ? missing.join(" and ") : undefined;
}

/**
 * The local runner: nothing to do when its Python has what the lemfile needs; else lem's venv with
 * the pinned requirements (made from the first Python that can make venvs, or after apt installs
 * python3-venv); where no venv can be made, Debian's torch as root; else blocked, with the fix.
 * A Python the user named (LEM_PYTHON, .lem-config.yaml) is theirs: lem neither installs into it
 * nor quietly uses another. `forceVenv` (`lem setup --venv`) makes the venv whatever else is found.
 */
export function planLocal(backend: Backend, py: ResolvedPython, host: HostFacts, venv: LemVenv,
  opts: { needs: LocalNeeds; bases: PythonProbe[]; forceVenv?: boolean; reason?: string }): SetupStep {
  const blocked = (message: string, fix: string): SetupStep => ({ kind: "blocked", backend, runner: "local", message, fix });
  const missing = missingPackages(py.probe, opts.needs);
  const usable = py.probe.found && !missing;
  if (usable && !py.probe.harness) return blocked(`${describePython(py)} cannot import lem's harness`, "reinstall lem: its docker/harness folder is missing");
  if (usable && (!opts.forceVenv || py.source === "venv")) {
    const what = opts.needs.transformers ? "torch and transformers" : "torch";
    return { kind: "ready", backend, runner: "local", detail: `${describePython(py)}: Python ${py.probe.version} with ${what}` };
  }
  if (!opts.forceVenv && (py.source === "env:LEM_PYTHON" || py.source === ".lem-config.yaml")) {
    const unset = py.source === "env:LEM_PYTHON" ? "unset LEM_PYTHON" : "remove python from .lem-config.yaml";
    return blocked(`${describePython(py)} ${py.probe.found ? `has no ${missing}` : `cannot run: ${py.probe.error}`}`,
      `install the harness's requirements for it (${py.python} -m pip install -r ${REQUIREMENTS_FILE}), or ${unset} and run \`npx lem setup\` again: it makes lem's own venv`);
  }
  const why = opts.reason ?? (opts.forceVenv ? "--venv" : `no Python here has ${missing ?? "torch"} (tried ${py.tried.map((t) => t.python).join(", ")})`);
  const where = `${VENV_WHAT} into lem's venv ${venv.dir}`;
  const base = opts.bases.find((b) => b.found && b.venv);
  if (base) return { kind: "venv", backend, runner: "local", base: base.python, dir: venv.dir, aptFirst: [], detail: `${why}: installs ${where}` };
  const python = opts.bases.find((b) => b.found);
  if (python && host.apt && host.root) {
    return { kind: "venv", backend, runner: "local", base: python.python, dir: venv.dir, aptFirst: VENV_APT_PACKAGES,
      detail: `${why}: apt-get installs ${VENV_APT_PACKAGES.join(" ")} (${python.python} cannot make a venv without it), then installs ${where}` };
  }
  if (!python && host.apt && host.root && !opts.needs.transformers) {
    return { kind: "apt", backend, runner: "local", packages: APT_PACKAGES, detail: `${why}, and no Python to make a venv with: installs ${APT_WHERE}` };
  }
  if (host.apt) {
    return blocked(`${why}, and ${python ? `${python.python} cannot make a venv` : "there is no Python 3 here"}`,
      `sudo apt-get install -y python3 ${VENV_APT_PACKAGES.join(" ")}, then run \`npx lem setup\` again`);
  }
  return blocked(`${why}, and ${python ? `${python.python} cannot make a venv` : "there is no Python 3 here"}`,
    "install Python 3.11 with its venv module, then run `npx lem setup` again; or set LEM_PYTHON to a Python with the harness's requirements, or start Docker and use --runner docker");
}
