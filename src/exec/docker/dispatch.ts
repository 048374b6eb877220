import { existsSync } from "node:fs";
import { join } from "node:path";
import { openHarnessLog, TailBuffer, type ExchangeDir, type LaunchOutcome } from "../exchange-dir.js";
import { watchInterrupts } from "../interrupts.js";
import { translateDockerError } from "./errors.js";
import { writeSecretsFile, type SecretsFile } from "./secrets.js";
import type { RunningDocker } from "./docker-cli.js";
import type { RunContext } from "../runner.js";

/** What differs between the two Docker strategies; dispatchHarness does the rest. */
export interface DockerDispatch {
  image: string;
  /** Host variables passed through a 0600 env file, never argv. */
  secrets: string[];
  /** Starts the harness (`docker run` or `docker exec`) with the secrets file made for it. */
  start(secrets: SecretsFile): RunningDocker;
  /** First Ctrl-C (SIGTERM to the harness) and second (kill). */
  terminate(): void;
  kill(): void;
  /** For a failed run: the container's id and whether the kernel OOM-killed it. */
  diagnose?(): Promise<{ containerId: string | null; oomKilled: boolean }>;
  containerId?(): string | null;
  /** Always runs last (e.g. `docker rm -f`). */
  cleanup?(): Promise<void>;
}

/**
 * One harness run in a container, shared by the ephemeral and persistent runners: the secrets
 * file, harness.log and the stderr tail, the interrupt watch, the error translation (OOM,
 * missing image, GPU access, ...) and cleanup, so both strategies fail and clean up alike.
 */
export async function dispatchHarness(x: ExchangeDir, ctx: RunContext, d: DockerDispatch): Promise<LaunchOutcome> {
  const secrets = writeSecretsFile(d.secrets);
  const log = openHarnessLog(x);
  const tail = new TailBuffer();
  const watch = watchInterrupts(ctx, { terminate: () => d.terminate(), kill: () => d.kill() });
  try {
    const proc = d.start(secrets);
    proc.stdout.on("data", (chunk: Buffer) => log.write(chunk));
    proc.stderr.on("data", (chunk: Buffer) => { tail.push(chunk); log.write(chunk); });
    const output = await proc;
    const ok = output.exitCode === 0 && existsSync(join(x.dir, x.resultFile));
    let containerId = d.containerId?.() ?? null;
    let oomKilled = false;
    if (!ok && d.diagnose) ({ containerId, oomKilled } = await d.diagnose());
    const { interrupted, timedOut } = watch;
    const error = ok || interrupted ? undefined : translateDockerError(output.exitCode, output.stderr, d.image, { oomKilled, timedOut }).toNodeError();
    return { exitCode: output.exitCode, stderrTail: tail.toString(), interrupted, timedOut, containerId, error };
  } finally {
    watch.dispose();
    log.end();
    await d.cleanup?.();
    secrets.remove();
  }
}
