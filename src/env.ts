/**
 * lem's environment variables are all LEM_*. The two the host sets for the harness were once named
 * LLEM_* (LLEM_CONFIG_PATH, LLEM_PARENT_PID); those old names stay aliases. This file is the rule
 * for TypeScript, docker/harness/lem_harness/env.py its twin in the harness:
 * - a reader takes LEM_<NAME>, else LLEM_<NAME> (an empty value counts as unset);
 * - a writer sets LEM_<NAME> and also LLEM_<NAME>, so that a harness older than the rename (inside
 *   a `docker:<image>` built from an earlier lem, or a Slurm container image) still finds its config.
 */

/** The harness's inputs, by name without the prefix. */
export type HarnessVar = "CONFIG_PATH" | "PARENT_PID";

/** LEM_<name>, else its old name LLEM_<name>. */
export function lemEnv(name: HarnessVar, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[`LEM_${name}`] || env[`LLEM_${name}`] || undefined;
}

/** What a runner sets for the harness: each variable under LEM_ and under its LLEM_ alias. */
export function harnessEnv(vars: Partial<Record<HarnessVar, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(vars)) {
    if (value === undefined) continue;
    env[`LEM_${name}`] = value;
    env[`LLEM_${name}`] = value;
  }
  return env;
}
