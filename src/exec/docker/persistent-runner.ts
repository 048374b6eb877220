import { runInExchangeDir, type ExchangeDir, type LaunchOutcome } from "../exchange-dir.js";
import { ContainerManager } from "./container-manager.js";
import { containerServerDir, execHarness, removeIfEmpty } from "./exec-harness.js";
import { campaignEnv, HARNESS_COMMAND } from "./command.js";
import { restartReason, gpuMemoryPct, type HealthPolicy } from "./health.js";
import type { Runner, RunContext, RunOutcome, RunnerMeta } from "../runner.js";
import type { PlannedNode } from "../../graph/plan.js";

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

/**
 * The persistent strategy (`--container-strategy persistent`): nodes run by `docker exec` in a container that compose keeps
 * up. The harness's pid is written beside its config so a stop can reach the process inside the
 * container (killing the exec client alone would leave it running). Between nodes the health
 * check may restart the service (see health.ts), since state leaks between experiments.
 */
export class PersistentRunner implements Runner {
  readonly kind = "persistent" as const;
  private sinceCheck = 0;
  /** Lanes whose serving nodes ran here: their registries in the service hold servers until stopped. */
  private readonly servedLanes = new Set<number>();
  constructor(private readonly o: PersistentRunnerOptions) {}

  prepare(): Promise<void> {
    return this.o.manager.startAll();
  }

  async run(node: PlannedNode, ctx: RunContext): Promise<RunOutcome> {
    const meta: RunnerMeta = { runner_type: "persistent", runner_image: this.o.image, runner_source: this.o.source, image_digest: this.o.imageDigest };
    if (ctx.server) this.servedLanes.add(ctx.server.lane);
    const outcome = await runInExchangeDir(node, ctx, meta, (x) => this.launch(x, node, ctx), this.o.exchangeRoot);
    this.sinceCheck += 1;
    // A shared server kept for the key's next node is state carried on purpose (and holds GPU memory): no restart under it.
    if (outcome.ok && ctx.server && !ctx.server.last) return outcome;
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
    return execHarness(x, ctx, {
      image: this.o.image, secrets: this.o.secrets,
      exec: (command, options) => manager.exec(service, command, options),
      containerId: () => manager.containerId(service),
    }, campaignEnv(this.o, node, ctx.totalCycles));
  }

  async dispose(): Promise<void> {
    // Services left up (auto_teardown: false) must not keep a shared server a skipped node would have stopped.
    if (this.servedLanes.size > 0) {
      const stop = [...HARNESS_COMMAND.slice(0, 2), "lem_harness.serving.registry", "stop", ...[...this.servedLanes].map(containerServerDir)];
      try { await this.o.manager.exec(this.o.service, stop); } catch { /* the service is down: so are its servers */ }
    }
    await this.o.manager[Symbol.asyncDispose]();
    removeIfEmpty(this.o.exchangeRoot);
  }
}
