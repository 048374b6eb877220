import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { groupResults, type ResultGroup } from "../report/aggregate.js";
import { ResultStore } from "../store/store.js";
import { inputError } from "../errors.js";

// Where `lem compare` reads a store from: a results folder, or `git:REF[:PATH]`, the store as
// committed at REF (PATH relative to the current folder; default: the other argument's folder).

export interface LoadedStore { label: string; groups: ResultGroup[]; warnings: string[] }

/**
 * Every (hash, hardware) group of a results folder; a missing or non-folder path is an input error.
 * The folder is read as someone else's: nothing in it is changed or moved aside, no link in it is
 * followed, and each file that cannot be used is a warning naming it.
 */
export function loadStoreFolder(dir: string, label = dir): LoadedStore {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw inputError(`${label}: not a results folder`, "pass a store folder (e.g. results) or git:<ref>[:<path>]");
  }
  const store = new ResultStore(dir, { readOnly: true });
  const snapshot = store.snapshot();
  const names = new Map([...snapshot.entries].map(([hash, e]) => [hash, e.names]));
  const results = [...snapshot.entries.keys()].flatMap((hash) => store.results(hash));
  return { label, groups: groupResults(results, (h) => (names.get(h)?.length ? names.get(h) : undefined)), warnings: snapshot.warnings };
}

function git(args: string[], cwd: string): { ok: boolean; stdout: Buffer; stderr: string } {
  const r = spawnSync("git", args, { cwd, maxBuffer: 1 << 30 });
  return { ok: r.status === 0, stdout: r.stdout ?? Buffer.alloc(0), stderr: (r.stderr?.toString() ?? r.error?.message ?? "").trim() };
}

/** Extracts PATH at REF with `git archive` into a temp folder and loads it; the folder is removed after. */
export function loadGitStore(spec: string, defaultPath: string, cwd = process.cwd()): LoadedStore {
  const rest = spec.slice("git:".length);
  const colon = rest.indexOf(":");
  const ref = colon < 0 ? rest : rest.slice(0, colon);
  const path = colon < 0 ? defaultPath : rest.slice(colon + 1);
  if (!ref) throw inputError(`${spec}: no ref after git:`, "e.g. git:main or git:origin/main:results");
  const top = git(["rev-parse", "--show-toplevel"], cwd);
  if (!top.ok) throw inputError(`${spec}: ${cwd} is not in a git repository (${top.stderr.split("\n")[0]})`, "run lem compare inside the repository, or pass a folder");
  if (!git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], cwd).ok) {
    throw inputError(`${spec}: no commit "${ref}" in this repository`, "name a branch, tag or commit (git fetch it first in CI: actions/checkout with fetch-depth: 0)");
  }
  const inRepo = relative(top.stdout.toString().trim(), resolve(cwd, path)) || ".";
  if (inRepo.startsWith("..")) throw inputError(`${spec}: ${path} is outside the repository`);
  const tmp = mkdtempSync(join(tmpdir(), "lem-compare-"));
  try {
    const listed = git(["ls-tree", "-d", "--name-only", ref, "--", inRepo], cwd);
    if (inRepo !== "." && (!listed.ok || listed.stdout.toString().trim() === "")) {
      throw inputError(`${spec}: no folder ${inRepo} at ${ref}`, "name the store's path after the ref: git:<ref>:<path>");
    }
    const archive = git(["archive", "--format=tar", ref, "--", inRepo], cwd);
    if (!archive.ok) throw inputError(`${spec}: git archive failed: ${archive.stderr}`);
    const tar = spawnSync("tar", ["-x", "-C", tmp], { input: archive.stdout });
    if (tar.status !== 0) throw new Error(`tar -x failed: ${tar.stderr?.toString() ?? tar.error?.message}`);
    const loaded = loadStoreFolder(join(tmp, inRepo), `${spec} (${inRepo} at ${ref})`);
    // Name a committed file as git does (REF:path), not by the temp folder it was read from.
    return { ...loaded, label: spec, warnings: loaded.warnings.map((w) => w.replaceAll(`${tmp}/`, `${ref}:`)) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A compare argument: git:REF[:PATH] or a folder. */
export function loadStore(arg: string, other: string): LoadedStore {
  if (arg.startsWith("git:")) return loadGitStore(arg, other.startsWith("git:") ? "results" : other);
  return loadStoreFolder(arg);
}
