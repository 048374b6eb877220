import { existsSync, createWriteStream, readFileSync } from "node:fs";
import { join } from "node:path";
import { runInExchangeDir, TailBuffer, type ExchangeDir, type LaunchOutcome } from "../exchange-dir.js";
import { dockerRunArgs, containerName, HARNESS_COMMAND, type RunSpec } from "./command.js";
import { docker, dockerProcess } from "./docker-cli.js";
import { translateDockerError } from "./errors.js";
import { writeSecretsFile } from "./secrets.js";
import { ownerLabels, LABEL } from "./labels.js";
import { watchInterrupts } from "../interrupts.js";
import { pinValue } from "../devices.js";
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

/** Env vars every dispatched experiment sees (seed 000's campaign context). */
export function campaignEnv(o: { runId: string; campaignName: string }, node: PlannedNode, totalCycles: number): Record<string, string> {
  return { LEM_CAMPAIGN_ID: o.runId, LEM_CAMPAIGN_NAME: o.campaignName, LEM_CYCLE: String(node.cycle), LEM_TOTAL_CYCLES: String(totalCycles) };
}

/**
 * Seed 004's ephemeral runner: one container per node. It runs without --rm so that, when it
 * fails, `docker inspect` can still tell an OOM kill from any other exit 137; lem removes it
 * right after either way, so nothing is left behind (and run + rm costs less than run --rm here).
 */
export class DockerRunner implements Runner {
  readonly kind = "docker" as const;
  constructor(private readonly o: DockerRunnerOptions) {}

  run(node: PlannedNode, ctx: RunContext): Promise<RunOutcome> {
    const meta: RunnerMeta = { runner_type: "docker", runner_image: this.o.image, runner_source: this.o.source, image_digest: this.o.imageDigest };
    return runInExchangeDir(node, ctx, meta, (x) => this.launch(x, node, ctx));
  }

  private async launch(x: ExchangeDir, node: PlannedNode, ctx: RunContext): Promise<LaunchOutcome> {
    const secrets = writeSecretsFile(this.o.secrets);
    const name = containerName(node.hash, node.cycle, this.o.runId);
    const spec: RunSpec = {
      image: this.o.image, name, exchangeDir: x.dir, configFile: x.configFile,
      labels: { ...ownerLabels(this.o.runId), [LABEL.node]: `${node.hash}#${node.cycle}` },
      gpus: ctx.devices ? pinValue(ctx.devices) : this.o.gpus, shmSize: this.o.shmSize, memory: this.o.memory, envFile: secrets.path,
      env: campaignEnv(this.o, node, ctx.totalCycles), hfCache: this.o.hfCache, projectDir: this.o.projectRoot,
      user: process.getuid?.() === 0 ? undefined : `${process.getuid?.()}:${process.getgid?.()}`,
      cidFile: join(secrets.dir, "cid"), command: HARNESS_COMMAND,
    };
    const log = createWriteStream(join(x.dir, "harness.log"));
    const tail = new TailBuffer();
    // docker stop sends SIGTERM to --init, which passes it to the harness.
    const watch = watchInterrupts(ctx, {
      terminate: () => void docker(["stop", "-t", String(this.o.stopGrace ?? 10), name]),
      kill: () => void docker(["kill", name]),
    });
    try {
      const proc = dockerProcess(dockerRunArgs(spec));
      proc.stdout.on("data", (chunk: Buffer) => log.write(chunk));
      proc.stderr.on("data", (chunk: Buffer) => { tail.push(chunk); log.write(chunk); });
      const output = await proc;
      const exitCode = output.exitCode;
      const ok = exitCode === 0 && existsSync(join(x.dir, x.resultFile));
      let containerId = readCid(spec.cidFile!);
      let oomKilled = false;
      // Only a failure needs docker inspect (OOMKilled); a success has its id from --cidfile.
      if (!ok) {
        const inspect = await docker(["inspect", "-f", "{{.Id}} {{.State.OOMKilled}}", name]);
        if (inspect.exitCode === 0) {
          const [id, oom] = inspect.stdout.trim().split(" ");
          containerId = id;
          oomKilled = oom === "true";
        }
      }
      const { interrupted, timedOut } = watch;
      const error = ok || interrupted ? undefined : translateDockerError(exitCode, output.stderr, this.o.image, { oomKilled, timedOut }).toNodeError();
      return { exitCode, stderrTail: tail.toString(), interrupted, timedOut, containerId, error };
    } finally {
      watch.dispose();
      log.end();
      await dockerProcess(["rm", "-f", name]);
      secrets.remove();
    }
  }
}

function readCid(path: string): string | null {
  try { return readFileSync(path, "utf8").trim() || null; } catch { return null; }
}
