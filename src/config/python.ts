import { spawnSync } from "node:child_process";
import { HARNESS_DIR } from "../paths.js";

/** What one Python interpreter offers the local runner. */
export interface PythonProbe {
  python: string;
  /** It ran at all. */
  found: boolean;
  torch: boolean;
  /** lem's harness (docker/harness) is importable with lem's PYTHONPATH. */
  harness: boolean;
  version?: string;
  /** Why it did not run, when it did not. */
  error?: string;
}

export interface ResolvedPython {
  python: string;
  /** env:LEM_PYTHON, .lem-config.yaml, or auto (found by looking for torch). */
  source: "env:LEM_PYTHON" | ".lem-config.yaml" | "auto";
  probe: PythonProbe;
  /** Every interpreter looked at, in order (auto only looks further than the first). */
  tried: PythonProbe[];
}

/** Where lem looks when nothing names a Python: PATH's python3, then Debian's (what `lem setup` installs). */
export const PYTHON_CANDIDATES = ["python3", "/usr/bin/python3"] as const;

// find_spec locates a package without importing it: ~30 ms where `import torch` takes seconds.
const PROBE = `import sys, json, importlib.util as u
print(json.dumps({"version": sys.version.split()[0], "torch": u.find_spec("torch") is not None, "harness": u.find_spec("lem_harness") is not None}))`;

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
    const facts = JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as { version: string; torch: boolean; harness: boolean };
    probe = { python, found: true, torch: facts.torch, harness: facts.harness, version: facts.version };
  } catch {
    const why = r.error ? ((r.error as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : r.error.message)
      : (r.stderr.trim().split("\n").pop() || `exited with code ${r.status}`);
    probe = { python, found: false, torch: false, harness: false, error: why };
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
 * LEM_PYTHON > .lem-config.yaml `python` > the first of PATH's python3 and /usr/bin/python3
 * that has torch > python3.
 */
export function resolvePython(user: { python?: string }, env: NodeJS.ProcessEnv = process.env): ResolvedPython {
  const named: [string | undefined, ResolvedPython["source"]][] = [[env.LEM_PYTHON, "env:LEM_PYTHON"], [user.python, ".lem-config.yaml"]];
  for (const [python, source] of named) {
    if (!python) continue;
    const probe = probePython(python);
    return { python, source, probe, tried: [probe] };
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
  const from = r.source === "env:LEM_PYTHON" ? "LEM_PYTHON" : r.source === ".lem-config.yaml" ? "python in .lem-config.yaml" : "found on this machine";
  return `${r.python} (${from})`;
}
