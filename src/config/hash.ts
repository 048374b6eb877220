import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical-json.js";
import type { ExperimentConfig } from "../lemfile/types.js";

/** Bumped when the hashed representation changes, so old results are not mistaken for new ones. */
export const HASH_VERSION = 1;

/** 16 hex digits of sha256 over the canonical, defaults-applied measurement config. */
export function measurementHash(config: ExperimentConfig): string {
  const text = canonicalJson({ hash_version: HASH_VERSION, config });
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}
