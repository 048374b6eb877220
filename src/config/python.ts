import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HARNESS_DIR, lemCacheDir, REQUIREMENTS_FILE } from "../paths.js";
import { findSetting } from "./settings.js";

/** What one Python interpreter offers the local runner. */
export interface PythonProbe {
  python: string;
  /** It ran at all. */
  found: boolean;
  torch: boolean;
  /** transformers is importable: Hugging Face models (anything but synthetic:<preset>) need it. */
  transformers: boolean;
  /** It can make a venv with pip in it (venv and ensurepip; Debian ships ensurepip in python3-venv). */
  venv: boolean;
  /** pip is importable: lem's pytorch image is built from wheels that this Python's pip fetches. */
  pip: boolean;
  /** lem's harness (docker/harness) is importable with lem's PYTHONPATH. */
  harness: boolean;
  version?: string;
  /** Why it did not run, when it did not. */
  error?: string;
}

export interface ResolvedPython {
  python: string;
  /** env:LEM_PYTHON, .lem-config.yaml, lem's venv, or auto (found by looking for torch). */
  source: "env:LEM_PYTHON" | ".lem-config.yaml" | "venv" | "auto";
  probe: PythonProbe;
  /** Every interpreter looked at, in order (auto only looks further than the first). */
  tried: PythonProbe[];
}

/** Where lem looks when nothing names a Python and lem's venv is not made: PATH's python3, then Debian's. */
export const PYTHON_CANDIDATES = ["python3", "/usr/bin/python3"] as const;

/** lem's own venv: where `lem setup` installs the harness's pinned requirements. */
export interface LemVenv {
  dir: string;
  python: string;
  /** First 12 hex digits of sha256(requirements.txt): new pins make a new venv, never a half-updated one. */
  key: string;
  /** Written last by `lem setup`, holding the key: a venv without it is incomplete and not used. */
  marker: string;
}

/** First 12 hex digits of sha256(requirements.txt): what names lem's venv and its image's wheels. */
export const requirementsKey = () => createHash("sha256").update(readFileSync(REQUIREMENTS_FILE)).digest("hex").slice(0, 12);

/** LEM_VENV, else <cache>/venv-<key>: a later CI run or project on the same machine reuses it. */
export function lemVenv(env: NodeJS.ProcessEnv = process.env): LemVenv {
  const key = requirementsKey();
  const dir = env.LEM_VENV || join(lemCacheDir(env), `venv-${key}`);
  return { dir, python: join(dir, "bin", "python"), key, marker: join(dir, ".lem-requirements") };
}

/** The venv was finished by `lem setup` for the current requirements. */
export function venvComplete(venv: LemVenv): boolean {
  try {
    return readFileSync(venv.marker, "utf8").trim() === venv.key && existsSync(venv.python);
  } catch {
    return false;
  }
}

// find_spec locates a package without importing it: ~30 ms where `import torch` takes seconds.
const PROBE = `import sys, json, importlib.util as u
has = lambda m: u.find_spec(m) is not None
print(json.dumps({"version": sys.version.split()[0], "torch": has("torch"), "transformers": has("transformers"),
                  "venv": has("venv") and has("ensurepip"), "pip": has("pip"), "harness": has("lem_harness")}))`;

const probes = new Map<string, PythonProbe>();

/** Probes a Python once per process (cached): does it run, find torch, find lem's harness. */
export function probePython(python: string): PythonProbe {
  const cached = probes.get(python);
  if (cached) return cached;
  const r = spawnSync(python, ["-c", PROBE], {
    encoding: "utf8", timeout: 20_000,
    env: { ...process.env, PYTHONPATH: [HARNESS_DIR, process.env.PYTHONPATH].filter(Boolean).join(":") },
  });
  let probe: PythonProbe;
  try {
    if (r.status !== 0) throw new Error();
    const facts = JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as Omit<PythonProbe, "python" | "found">;
    probe = { python, found: true, ...facts };
  } catch {
    const why = r.error ? ((r.error as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : r.error.message)
      : (r.stderr.trim().split("\n").pop() || `exited with code ${r.status}`);
    probe = { python, found: false, torch: false, transformers: false, venv: false, pip: false, harness: false, error: why };
  }
  probes.set(python, probe);
  return probe;
}

/** Forgets every probe (after `lem setup` installed a Python). */
export function forgetPythonProbes(): void {
  probes.clear();
}

/**
 * The local runner's Python, found the same way by build, setup, preflight and doctor:
 * LEM_PYTHON > .lem-config.yaml `python` > lem's venv, once `lem setup` finished it > the first of
 * PATH's python3 and /usr/bin/python3 that has torch > python3.
 */
export function resolvePython(user: { python?: string }, env: NodeJS.ProcessEnv = process.env): ResolvedPython {
  const venv = lemVenv(env);
  // lem's venv stands where a default would: below what the user names, above a guess.
  const named = findSetting<string>({
    env: { value: env.LEM_PYTHON, source: "env:LEM_PYTHON" }, user: { value: user.python, source: ".lem-config.yaml" },
  }) ?? (venvComplete(venv) ? { value: venv.python, source: "venv" } : undefined);
  if (named) {
    const probe = probePython(named.value);
    return { python: named.value, source: named.source as ResolvedPython["source"], probe, tried: [probe] };
  }
  const tried: PythonProbe[] = [];
  for (const python of PYTHON_CANDIDATES) {
    const probe = probePython(python);
    tried.push(probe);
    if (probe.torch) return { python, source: "auto", probe, tried };
  }
  return { python: PYTHON_CANDIDATES[0], source: "auto", probe: tried[0], tried };
}

/** How a resolved Python reads in a message: "/usr/bin/python3 (LEM_PYTHON)". */
export function describePython(r: ResolvedPython): string {
  const from = { "env:LEM_PYTHON": "LEM_PYTHON", ".lem-config.yaml": "python in .lem-config.yaml", venv: "lem's venv, made by lem setup", auto: "found on this machine" }[r.source];
  return `${r.python} (${from})`;
}
