import { spawnSync } from "node:child_process";

/**
 * Docker tests skip loudly where no daemon answers; .ci/run sets LEM_REQUIRE_DOCKER=1 so that
 * there they fail instead.
 */
export function requireDocker(file: string): boolean {
  if (spawnSync("docker", ["info"], { stdio: "ignore" }).status === 0) return true;
  if (process.env.LEM_REQUIRE_DOCKER === "1") throw new Error(`${file}: no Docker daemon answers, and LEM_REQUIRE_DOCKER=1`);
  console.warn(`\n!! SKIPPING ${file}: no Docker daemon answers (docker info failed)\n`);
  return false;
}

/** Names of lem's containers that exist now (running or not). */
export function dockerPs(): string[] {
  const r = spawnSync("docker", ["ps", "-a", "--filter", "label=org.llenergymeasure.managed=1", "--format", "{{.Names}}"], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean);
}
