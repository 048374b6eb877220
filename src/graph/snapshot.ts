import type { ExperimentConfig } from "../lemfile/types.js";

// What planning needs to know of the store, read once per command. Declared here, beside the
// planner, and filled in by store/ (which sits above graph/ and imports its hashing).

export interface FailureRecord {
  type: string;
  message: string;
  at: string;
  exchange_dir?: string;
}

/** What the store knows about one config hash; read once per command by snapshot(). */
export interface StoreEntry {
  hash: string;
  names: string[];
  groups: string[];
  config?: ExperimentConfig;
  /** Whether config.json was there and readable; a build rewrites it when not. */
  configState: "ok" | "missing" | "unreadable";
  updatedAt: string;
  /** cycle → hardware fingerprints that have a valid result for it */
  done: Map<number, string[]>;
  /** cycle → hardware fingerprint → last failure there */
  failed: Map<number, Map<string, FailureRecord>>;
}

export interface StoreSnapshot {
  entries: Map<string, StoreEntry>;
  /** Files that could not be used (corrupt, invalid, not regular files) and were moved aside or ignored. */
  warnings: string[];
}
