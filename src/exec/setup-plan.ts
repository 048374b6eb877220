import { existsSync } from "node:fs";
import { describePython, type ResolvedPython } from "../config/python.js";
import type { Backend } from "../lemfile/types.js";
import { onPath } from "./preflight.js";

/** What `lem setup` does for one backend's runner. */
export type SetupStep =
  | { kind: "ready"; backend: Backend; runner: string; detail: string }
  | { kind: "apt"; backend: Backend; runner: "local"; packages: readonly string[]; detail: string }
  | { kind: "image"; backend: Backend; runner: string; tag: string; detail: string }
  | { kind: "blocked"; backend: Backend; runner: string; message: string; fix: string };

/**
 * Debian's Python 3 with CPU torch (trixie: torch 2.6, bookworm: 1.13), numpy, and the threaded
 * OpenBLAS (25-40x faster matmul than the reference BLAS torch would otherwise get).
 */
export const APT_PACKAGES = ["python3", "python3-torch", "python3-numpy", "libopenblas0-pthread"] as const;
export const APT_COMMAND = `apt-get update && apt-get install -y --no-install-recommends ${APT_PACKAGES.join(" ")}`;
export const APT_WHERE = "Debian's /usr/bin/python3, with torch and numpy under /usr/lib/python3/dist-packages (about 1 GB)";
// PyPI's CPU wheels, for hosts that are not Debian (not reachable from every machine lem runs on).
const pipFix = (python: string) => `${python} -m pip install torch numpy --index-url https://download.pytorch.org/whl/cpu`;

/** What this machine offers for installing a Python. */
export interface HostFacts {
  root: boolean;
  /** Debian-like: apt-get on PATH and /etc/debian_version. */
  apt: boolean;
}

export function hostFacts(): HostFacts {
  return { root: process.getuid?.() === 0, apt: onPath("apt-get") && existsSync("/etc/debian_version") };
}

/**
 * The local runner: nothing to do when its Python has torch and the harness; Debian's torch
 * through apt when lem chose the Python itself and may install; else blocked, with the fix.
 */
export function planLocal(backend: Backend, py: ResolvedPython, host: HostFacts): SetupStep {
  if (py.probe.torch && py.probe.harness) {
    return { kind: "ready", backend, runner: "local", detail: `${describePython(py)}: Python ${py.probe.version} with torch` };
  }
  const blocked = (message: string, fix: string): SetupStep => ({ kind: "blocked", backend, runner: "local", message, fix });
  if (py.probe.torch) return blocked(`${describePython(py)} cannot import lem's harness`, "reinstall lem: its docker/harness folder is missing");
  if (py.source !== "auto") {
    // A Python the user named is theirs: lem does not install into it, nor quietly use another.
    const unset = py.source === "env:LEM_PYTHON" ? "unset LEM_PYTHON" : "remove python from .lem-config.yaml";
    return blocked(`${describePython(py)} ${py.probe.found ? "has no torch" : `cannot run: ${py.probe.error}`}`,
      `install torch for it (${pipFix(py.python)}), or ${unset} and run \`npx lem setup\` again`);
  }
  const none = `no Python with torch here (tried ${py.tried.map((t) => t.python).join(", ")})`;
  if (host.apt && host.root) {
    return { kind: "apt", backend, runner: "local", packages: APT_PACKAGES, detail: `${none}: installs ${APT_WHERE}` };
  }
  if (host.apt) return blocked(none, `sudo ${APT_COMMAND.replace("&& apt-get", "&& sudo apt-get")}, then run \`npx lem setup\` again`);
  return blocked(none, `install a Python 3 with torch (${pipFix("python3")}) and set LEM_PYTHON to it, or start Docker and use --runner docker`);
}
