import { fileURLToPath } from "node:url";
import { homedir } from "node:os";
import { join } from "node:path";

/** lem's package root: one level above this file, in src/ and in dist/ alike. */
export const PACKAGE_ROOT = fileURLToPath(new URL("../", import.meta.url));
export const SCHEMA_DIR = join(PACKAGE_ROOT, "schemas");
export const DOCKER_DIR = join(PACKAGE_ROOT, "docker");
export const HARNESS_DIR = join(DOCKER_DIR, "harness");
/** The harness's pinned Python packages: lem's venv, CI and lem's pytorch image all install these. */
export const REQUIREMENTS_FILE = join(HARNESS_DIR, "requirements.txt");

/** lem's cache: LEM_CACHE_DIR, else $XDG_CACHE_HOME/lem (~/.cache/lem): bundled lemfiles, lem's venv, image wheels. */
export const lemCacheDir = (env: NodeJS.ProcessEnv = process.env) =>
  env.LEM_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "lem");
