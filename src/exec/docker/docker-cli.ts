import { $, type ProcessPromise } from "zx";

export interface DockerOutput { exitCode: number | null; stdout: string; stderr: string }

const DOCKER = process.env.LEM_DOCKER || "docker";

/** Runs `docker <args>` (zx quotes every argument) and never throws on a non-zero exit. */
export async function docker(args: string[], options: { signal?: AbortSignal; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<DockerOutput> {
  const out = await $({ quiet: true, nothrow: true, signal: options.signal, env: options.env ?? process.env, cwd: options.cwd })`${DOCKER} ${args}`;
  return { exitCode: out.exitCode, stdout: out.stdout, stderr: out.stderr };
}

/** Starts `docker <args>` and hands back the running process, for output streaming. */
export function dockerProcess(args: string[], env: NodeJS.ProcessEnv = process.env): ProcessPromise {
  return $({ quiet: true, nothrow: true, env })`${DOCKER} ${args}`;
}

/** True when a Docker daemon answers (cheap: one `docker version` round trip). */
export async function daemonAnswers(): Promise<boolean> {
  const r = await docker(["version", "--format", "{{.Server.Version}}"]).catch(() => undefined);
  return r?.exitCode === 0;
}
