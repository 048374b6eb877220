import { $ } from "zx";
import { dockerBinary, type DockerOutput } from "./docker-cli.js";

export interface Compose {
  /** "v2" (`docker compose`) or "v1" (`docker-compose`). */
  version: "v1" | "v2";
  run(args: string[], env?: NodeJS.ProcessEnv): Promise<DockerOutput>;
}

async function tryRun(cmd: string[], args: string[], env: NodeJS.ProcessEnv): Promise<DockerOutput> {
  const out = await $({ quiet: true, nothrow: true, env })`${cmd} ${args}`;
  return { exitCode: out.exitCode, stdout: out.stdout, stderr: out.stderr };
}

// v2 is a plugin of the docker CLI, so it goes through LEM_DOCKER too.
const candidates = () => [["v2", [dockerBinary(), "compose"]], ["v1", ["docker-compose"]]] as const;

/**
 * Compose v2 (the docker CLI plugin) when present, else v1's docker-compose; undefined when
 * neither. LEM_COMPOSE=v1|v2 insists on one.
 */
export async function detectCompose(prefer = process.env.LEM_COMPOSE): Promise<Compose | undefined> {
  for (const [version, cmd] of candidates().filter(([v]) => !prefer || v === prefer)) {
    const probe = await tryRun([...cmd], ["version"], process.env).catch(() => undefined);
    if (probe?.exitCode === 0) return { version, run: (args, env = process.env) => tryRun([...cmd], args, env) };
  }
  return undefined;
}
