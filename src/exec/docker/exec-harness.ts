import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { type ExchangeDir, type LaunchOutcome } from "../exchange-dir.js";
import { dispatchHarness } from "./dispatch.js";
import { HARNESS_COMMAND, CONTAINER_PROJECT } from "./command.js";
import { pinValue } from "../devices.js";
import { harnessEnv } from "../../env.js";
import type { RunningDocker } from "./docker-cli.js";
import type { RunContext, ServerShare } from "../runner.js";

/** Where a long-lived container has the exchange root (compose.yaml; server-containers.ts). */
export const CONTAINER_EXCHANGE_ROOT = "/run/llem-root";

/** A host folder for every node's exchange dir, mounted once into the long-lived containers. */
export function makeExchangeRoot(): string {
  return mkdtempSync(join(tmpdir(), "llem-root-"));
}

/** Kept exchange dirs of failed nodes live under an exchange root: it goes only when empty. */
export function removeIfEmpty(root: string): void {
  if (existsSync(root) && readdirSync(root).length === 0) rmSync(root, { recursive: true });
}

/** A running container the harness is started in by `docker exec`. */
export interface ExecTarget {
  image: string;
  /** Host variables passed through a 0600 env file, never argv. */
  secrets: string[];
  exec(command: string[], options: { env?: Record<string, string>; envFile?: string }): RunningDocker;
  containerId(): string | null;
}

/**
 * A serving node's shared server inside a long-lived container: the harness keeps it in a registry
 * folder per lane in the container's own /tmp (the harness's serving/registry.py), and the key's
 * last node stops it. The container's end stops whatever is left.
 */
export function containerServerEnv(share: ServerShare | undefined): Record<string, string> {
  if (!share) return {};
  return { LEM_SERVER_DIR: containerServerDir(share.lane), ...(share.last ? { LEM_SERVER_LAST: "1" } : {}) };
}

/** A lane's registry folder inside a container. */
export const containerServerDir = (lane: number): string => `/tmp/lem-servers-lane${lane}`;

/**
 * One node's harness by `docker exec` in a running container (the persistent services, and the
 * ephemeral strategy's server containers). Its pid is written beside its config so a stop reaches
 * the process inside the container: killing the exec client alone would leave it running.
 */
export function execHarness(x: ExchangeDir, ctx: RunContext, target: ExecTarget, env: Record<string, string>): Promise<LaunchOutcome> {
  const inside = `${CONTAINER_EXCHANGE_ROOT}/${basename(x.dir)}`;
  const signal = (sig: "TERM" | "KILL") =>
    void target.exec(["sh", "-c", `[ -f ${inside}/harness.pid ] && kill -${sig} $(cat ${inside}/harness.pid)`], {});
  return dispatchHarness(x, ctx, {
    image: target.image,
    secrets: target.secrets,
    start: (secrets) => target.exec(["sh", "-c", `echo $$ > ${inside}/harness.pid && cd ${CONTAINER_PROJECT} && exec ${HARNESS_COMMAND.join(" ")}`], {
      env: {
        ...harnessEnv({ CONFIG_PATH: `${inside}/${x.configFile}` }), ...env,
        // --gpus: the container sees every GPU it was given; this node only the ones it holds.
        ...(ctx.devices ? { CUDA_VISIBLE_DEVICES: pinValue(ctx.devices) } : {}),
        ...containerServerEnv(ctx.server),
      },
      envFile: secrets.path,
    }),
    terminate: () => signal("TERM"),
    kill: () => signal("KILL"),
    containerId: () => target.containerId(),
  });
}
