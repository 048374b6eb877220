import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { runInExchangeDir, type ExchangeDir, type LaunchOutcome } from "../exchange-dir.js";
import { ContainerManager } from "./container-manager.js";
import { dispatchHarness } from "./dispatch.js";
import { campaignEnv } from "./docker-runner.js";
import { HARNESS_COMMAND, CONTAINER_PROJECT } from "./command.js";
import { restartReason, gpuMemoryPct, type HealthPolicy } from "./health.js";
import type { Runner, RunContext, RunOutcome, RunnerMeta } from "../runner.js";
import type { PlannedNode } from "../../graph/plan.js";
import { pinValue } from "../devices.js";
import { harnessEnv } from "../../env.js";

/** Where compose.yaml mounts the exchange root inside the service containers. */
export const CONTAINER_EXCHANGE_ROOT = "/run/llem-root";

export interface PersistentRunnerOptions {
  manager: ContainerManager;
  service: string;
  exchangeRoot: string;
  image: string;
  imageDigest: string | null;
  source: string;
  runId: string;
  campaignName: string;
  secrets: string[];
  health: HealthPolicy;
  /** Whether this host has a GPU whose memory the health check should read. */
  gpu: boolean;
}

/** A host folder for every node's exchange dir, mounted once into the long-lived containers. */
export function makeExchangeRoot(): string {
  return mkdtempSync(join(tmpdir(), "llem-root-"));
}

/**
 * The persistent strategy (`--container-strategy persistent`): nodes run by `docker exec` in a container that compose keeps
 * up. The harness's pid is written beside its config so a stop can reach the process inside the
 * container (killing the exec client alone would leave it running). Between nodes the health
 * check may restart the service (see health.ts), since state leaks between experiments.
 */
export class PersistentRunner implements Runner {
  readonly kind = "persistent" as const;
  private sinceCheck = 0;
  constructor(private readonly o: PersistentRunnerOptions) {}

  prepare(): Promise<void> {
    return this.o.manager.startAll();
  }

  async run(node: PlannedNode, ctx: RunContext): Promise<RunOutcome> {
    const meta: RunnerMeta = { runner_type: "persistent", runner_image: this.o.image, runner_source: this.o.source, image_digest: this.o.imageDigest };
    const outcome = await runInExchangeDir(node, ctx, meta, (x) => this.launch(x, node, ctx), this.o.exchangeRoot);
    this.sinceCheck += 1;
    const checkGpu = this.o.gpu && this.o.health.enabled && this.sinceCheck >= this.o.health.interval_experiments;
    const why = restartReason(this.o.health, {
      failed: !outcome.ok, interrupted: !outcome.ok && Boolean(outcome.interrupted), sinceCheck: this.sinceCheck,
      gpuMemoryPct: checkGpu ? gpuMemoryPct() : null, restarts: this.o.manager.restarts.get(this.o.service) ?? 0,
    });
    if (checkGpu) this.sinceCheck = 0;
    if (why) {
      const restarted = await this.o.manager.restartService(this.o.service).then(() => "restarted", (e: Error) => `could not restart (${e.message})`);
      outcome.warning = `${this.o.service} service ${restarted}: ${why}`;
    }
    return outcome;
  }

  private async launch(x: ExchangeDir, node: PlannedNode, ctx: RunContext): Promise<LaunchOutcome> {
    const { manager, service } = this.o;
    await manager.startAll();
    const inside = `${CONTAINER_EXCHANGE_ROOT}/${basename(x.dir)}`;
    // Killing the exec client alone would leave the harness running: signal it by its pid.
    const signal = (sig: "TERM" | "KILL") =>
      void manager.exec(service, ["sh", "-c", `[ -f ${inside}/harness.pid ] && kill -${sig} $(cat ${inside}/harness.pid)`]);
    return dispatchHarness(x, ctx, {
      image: this.o.image,
      secrets: this.o.secrets,
      start: (secrets) => manager.exec(service, ["sh", "-c", `echo $$ > ${inside}/harness.pid && cd ${CONTAINER_PROJECT} && exec ${HARNESS_COMMAND.join(" ")}`], {
        env: {
          ...harnessEnv({ CONFIG_PATH: `${inside}/${x.configFile}` }), ...campaignEnv(this.o, node, ctx.totalCycles),
          // --gpus: the service sees every GPU; this node only the ones it holds.
          ...(ctx.devices ? { CUDA_VISIBLE_DEVICES: pinValue(ctx.devices) } : {}),
        },
        envFile: secrets.path,
      }),
      terminate: () => signal("TERM"),
      kill: () => signal("KILL"),
      containerId: () => manager.containerId(service),
    });
  }

  async dispose(): Promise<void> {
    await this.o.manager[Symbol.asyncDispose]();
    // Kept exchange dirs of failed nodes live under the root: remove it only when empty.
    if (existsSync(this.o.exchangeRoot) && readdirSync(this.o.exchangeRoot).length === 0) rmSync(this.o.exchangeRoot, { recursive: true });
  }
}
