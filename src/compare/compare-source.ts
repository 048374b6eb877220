import { existsSync, statSync } from "node:fs";
import { groupResults, type ResultGroup } from "../report/aggregate.js";
import { ResultStore } from "../store/store.js";
import { withGitStore } from "../store/open-git.js";
import { inputError } from "../errors.js";
import type { Slo } from "../report/slo.js";

// Where `lem compare` reads a store from: a results folder, or `git:REF[:PATH]`, the store as
// committed at REF (PATH relative to the current folder; default: the other argument's folder).

export interface LoadedStore { label: string; groups: ResultGroup[]; warnings: string[] }

/**
 * Every (hash, hardware) group of a results folder; a missing or non-folder path is an input error.
 * The folder is read as someone else's: nothing in it is changed or moved aside, no link in it is
 * followed, and each file that cannot be used is a warning naming it.
 */
export function loadStoreFolder(dir: string, label = dir, slo: Slo | null = null): LoadedStore {
  return loadReadOnly(new ResultStore(dir, { readOnly: true }), label, slo);
}

function loadReadOnly(store: ResultStore, label: string, slo: Slo | null): LoadedStore {
  if (!existsSync(store.root) || !statSync(store.root).isDirectory()) {
    throw inputError(`${label}: not a results folder`, "pass a store folder (e.g. results) or git:<ref>[:<path>]");
  }
  const snapshot = store.snapshot();
  const names = new Map([...snapshot.entries].map(([hash, e]) => [hash, e.names]));
  const results = [...snapshot.entries.keys()].flatMap((hash) => store.results(hash));
  return { label, groups: groupResults(results, (h) => (names.get(h)?.length ? names.get(h) : undefined), slo), warnings: snapshot.warnings };
}

/** The store committed at REF (git:REF[:PATH]), loaded from the tree `git archive` extracts. */
export function loadGitStore(spec: string, defaultPath: string, cwd = process.cwd(), slo: Slo | null = null): LoadedStore {
  return withGitStore(spec, defaultPath, ({ store, ref, inRepo, gitNames }) => {
    const loaded = loadReadOnly(store, `${spec} (${inRepo} at ${ref})`, slo);
    // Name a committed file as git does (REF:path), not by the temp folder it was read from.
    return { ...loaded, label: spec, warnings: loaded.warnings.map(gitNames) };
  }, cwd);
}

/** A compare argument: git:REF[:PATH] or a folder; `slo` gives each serving cycle its goodput. */
export function loadStore(arg: string, other: string, slo: Slo | null = null): LoadedStore {
  if (arg.startsWith("git:")) return loadGitStore(arg, other.startsWith("git:") ? "results" : other, process.cwd(), slo);
  return loadStoreFolder(arg, arg, slo);
}
