import { spawnSync } from "node:child_process";
import { mkdirSync, rmdirSync } from "node:fs";
import { test } from "uvu";
import { tempDir } from "./temp.js";

let probed: string | undefined | null = null;

/** Why this machine cannot mount a tmpfs (not root, no CAP_SYS_ADMIN), or undefined where it can. */
function cannotMount(): string | undefined {
  if (probed !== null) return probed;
  const dir = tempDir("lem-mount-probe-");
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir], { encoding: "utf8" });
  if (r.status === 0) spawnSync("umount", [dir]);
  try { rmdirSync(dir); } catch { /* tempDir cleans up */ }
  probed = r.status === 0 ? undefined : (r.stderr || String(r.error ?? `mount exited ${r.status}`)).trim();
  return probed;
}

/**
 * `test`, or `test.skip` with a loud line where no tmpfs can be mounted (it needs root). Under
 * CI=true that is an error instead: .ci/run runs as root on a machine that runs dockerd, where
 * mounting works, so a skip there would hide a test that never ran.
 */
export function tmpfsTest(file: string, what: string): typeof test | typeof test.skip {
  const why = cannotMount();
  if (!why) return test;
  if (process.env.CI === "true") throw new Error(`${file}: cannot mount a tmpfs for ${what} (${why}), and CI=true`);
  console.warn(`\n!! SKIPPING ${what} in ${file}: cannot mount a tmpfs (${why}); run as root to include them\n`);
  return test.skip;
}

/** Mounts a tmpfs of `kib` KiB (with extra `options`) at `dir`, and returns its unmount. Only inside a tmpfsTest. */
export function mountTmpfs(dir: string, kib: number, options = ""): () => void {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${kib}k${options ? `,${options}` : ""}`, "tmpfs", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`mount -t tmpfs at ${dir} failed: ${r.stderr.trim()}`);
  return () => { spawnSync("umount", ["-l", dir]); };
}
