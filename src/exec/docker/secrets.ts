import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SecretsFile {
  /** --env-file path, or undefined when no declared secret is set. */
  path?: string;
  /** Private scratch dir (0700) for this container: secrets, cidfile. Never kept. */
  dir: string;
  remove(): void;
}

/**
 * Declared secrets (HF_TOKEN...) that are set on the host go to the container through a 0600
 * env file in a private temp dir — never argv (visible in `ps`), never the exchange dir (kept
 * on failure), never logs. The dir is removed as soon as the container has ended.
 */
export function writeSecretsFile(names: string[], env: NodeJS.ProcessEnv = process.env): SecretsFile {
  const dir = mkdtempSync(join(tmpdir(), "lem-secret-"));
  const lines = names.filter((n) => env[n] !== undefined && env[n] !== "").map((n) => `${n}=${env[n]!.replace(/\n/g, "")}`);
  let path: string | undefined;
  if (lines.length) {
    path = join(dir, "env");
    writeFileSync(path, lines.join("\n") + "\n", { mode: 0o600 });
  }
  return { path, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
