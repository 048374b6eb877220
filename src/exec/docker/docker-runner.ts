import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runInExchangeDir, type ExchangeDir, type LaunchOutcome } from "../exchange-dir.js";
import { campaignEnv, dockerRunArgs, containerName, containerUser, HARNESS_COMMAND } from "./command.js";
import { docker, dockerProcess } from "./docker-cli.js";
import { dispatchHarness } from "./dispatch.js";
import { ownerLabels, LABEL } from "./labels.js";
import { pinValue } from "../devices.js";
import { execHarness, makeExchangeRoot, removeIfEmpty } from "./exec-harness.js";
import { ServerContainers } from "./server-containers.js";

import type { Runner, RunContext, RunOutcome, RunnerMeta } from "../runner.js";
import type { PlannedNode } from "../../graph/plan.js";

export interface DockerRunnerOptions {
  image: string;
  imageDigest: string | null;
  /** Where the runner choice came from (cli, lemfile, ...), recorded in results. */
  source: string;
  runId: string;
  campaignName: string;
  /** "none", "all" or a device list. */
  gpus: string;
  shmSize: string;
  memory?: string;
  secrets: string[];
  hfCache?: string;
  /** The lemfile's folder: the harness's working dir, so relative dataset paths resolve. */
  projectRoot?: string;
  /** Seconds a stopped container gets before docker kills it. */
  stopGrace?: number;
}

/**
 * The ephemeral Docker runner (the default strategy): one container per node. It runs without --rm so that, when it
 * fails, `docker inspect` can still tell an OOM kill from any other exit 137; lem removes it
 * right after either way, so nothing is left behind (and run + rm costs less than run --rm here).
 */
export class DockerRunner implements Runner {
  readonly kind = "docker" as const;
  /** Serving nodes that share a server run in its container (made on the first such node). */
  private servers?: { containers: ServerContainers; exchangeRoot: string };
  constructor(private readonly o: DockerRunnerOptions) {}

  async run(node: PlannedNode, ctx: RunContext): Promise<RunOutcome> {
    const meta: RunnerMeta = { runner_type: "docker", runner_image: this.o.image, runner_source: this.o.source, image_digest: this.o.imageDigest };
    const share = ctx.server;
    if (!share) return runInExchangeDir(node, ctx, meta, (x) => this.launch(x, node, ctx));
    if (!this.servers) {
      const exchangeRoot = makeExchangeRoot();
      this.servers = { exchangeRoot, containers: new ServerContainers({ ...this.o, exchangeRoot }) };
    }
    const { containers, exchangeRoot } = this.servers;
    // The lane holds its GPUs for the whole key (the scheduler), so the container gets the first node's.
    const gpus = ctx.devices ? pinValue(ctx.devices) : this.o.gpus;
    try {
      return await runInExchangeDir(node, ctx, meta, async (x) =>
        execHarness(x, ctx, await containers.target(share, gpus), campaignEnv(this.o, node, ctx.totalCycles)), exchangeRoot);
    } finally {
      if (share.last) await containers.release(share.lane);
    }
  }

  async dispose(): Promise<void> {
    if (!this.servers) return;
    await this.servers.containers.dispose();
    removeIfEmpty(this.servers.exchangeRoot);
  }

  private launch(x: ExchangeDir, node: PlannedNode, ctx: RunContext): Promise<LaunchOutcome> {
    const name = containerName(node.hash, node.cycle, this.o.runId);
    let cidFile = "";
    return dispatchHarness(x, ctx, {
      image: this.o.image,
      secrets: this.o.secrets,
      start: (secrets) => {
        cidFile = join(secrets.dir, "cid");
        return dockerProcess(dockerRunArgs({
          image: this.o.image, name, exchangeDir: x.dir, configFile: x.configFile,
          labels: { ...ownerLabels(this.o.runId), [LABEL.node]: `${node.hash}#${node.cycle}` },
          gpus: ctx.devices ? pinValue(ctx.devices) : this.o.gpus, shmSize: this.o.shmSize, memory: this.o.memory, envFile: secrets.path,
          env: campaignEnv(this.o, node, ctx.totalCycles), hfCache: this.o.hfCache, projectDir: this.o.projectRoot,
          user: containerUser(),
          cidFile, command: HARNESS_COMMAND,
        }));
      },
      // docker stop sends SIGTERM to --init, which passes it to the harness.
      terminate: () => void docker(["stop", "-t", String(this.o.stopGrace ?? 10), name]),
      kill: () => void docker(["kill", name]),
      containerId: () => readCid(cidFile),
      // Only a failure needs docker inspect (OOMKilled); a success has its id from --cidfile.
      diagnose: async () => {
        const inspect = await docker(["inspect", "-f", "{{.Id}} {{.State.OOMKilled}}", name]);
        if (inspect.exitCode !== 0) return { containerId: readCid(cidFile), oomKilled: false };
        const [id, oom] = inspect.stdout.trim().split(" ");
        return { containerId: id, oomKilled: oom === "true" };
      },
      cleanup: async () => { await dockerProcess(["rm", "-f", name]); },
    });
  }
}

function readCid(path: string): string | null {
  try { return readFileSync(path, "utf8").trim() || null; } catch { return null; }
}
