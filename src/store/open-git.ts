import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { ResultStore } from "./store.js";
import { inputError } from "../errors.js";

// The second way to open a store: `git:REF[:PATH]`, the store as committed at REF (PATH relative to
// the current folder; default: the caller's). Its files are someone else's, read as a read-only
// store is: nothing is changed or moved aside and no link is followed.

/** A store as committed at a ref, extracted for reading. */
export interface GitStore {
  /** Read-only, on a temp folder that exists only while the `use` callback runs. */
  store: ResultStore;
  ref: string;
  /** The store's path inside the repository ("." for its top). */
  inRepo: string;
  /** `text` with the temp folder's paths named as git names a committed file (REF:path). */
  gitNames(text: string): string;
}

function git(args: string[], cwd: string): { ok: boolean; stdout: Buffer; stderr: string } {
  const r = spawnSync("git", args, { cwd, maxBuffer: 1 << 30 });
  return { ok: r.status === 0, stdout: r.stdout ?? Buffer.alloc(0), stderr: (r.stderr?.toString() ?? r.error?.message ?? "").trim() };
}

/**
 * Extracts PATH at REF of `spec` (git:REF[:PATH]; PATH defaults to `defaultPath`) with `git archive`
 * into a temp folder, opens it as a read-only store for `use`, and removes the folder after.
 * A missing ref, path or repository is an input error naming `spec`.
 */
export function withGitStore<T>(spec: string, defaultPath: string, use: (opened: GitStore) => T, cwd = process.cwd()): T {
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
    return use({
      store: new ResultStore(join(tmp, inRepo), { readOnly: true }),
      ref,
      inRepo,
      gitNames: (text) => text.replaceAll(`${tmp}/`, `${ref}:`),
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
