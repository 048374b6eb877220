import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { containerOptions, containerUser } from "./command.js";
import { dockerBinary, docker, dockerProcess, type RunningDocker } from "./docker-cli.js";
import { DockerError, tail } from "./errors.js";
import { CONTAINER_EXCHANGE_ROOT, type ExecTarget } from "./exec-harness.js";
import { LABEL, ownerLabels } from "./labels.js";
import type { ServerShare } from "../runner.js";

/** What every server container of one runner shares (the ephemeral runner's options). */
export interface ServerContainerSpec {
  image: string;
  runId: string;
  secrets: string[];
  shmSize: string;
  memory?: string;
  hfCache?: string;
  projectRoot?: string;
  /** Host folder of the nodes' exchange dirs, mounted at CONTAINER_EXCHANGE_ROOT. */
  exchangeRoot: string;
}

interface Held { key: string; name: string; holder: ChildProcess; id: string }

const READY_TIMEOUT_MS = 60_000;

/**
 * The ephemeral strategy's home for a shared server (issue 20 §2): one container per lane and
 * server key, started at the key's first node in the lane and removed after its last, in which
 * each node's harness runs by `docker exec` and shares the server (the harness's registry in the
 * container's /tmp). Every other node keeps its own container.
 *
 * The container's main process reads its stdin until EOF, and lem holds the other end through the
 * attached `docker run -i` client: when lem dies, even SIGKILLed, the pipe closes, the container
 * exits and its server with it (the reaper removes the stopped container on the next build).
 */
export class ServerContainers {
  private readonly lanes = new Map<number, Held>();
  constructor(private readonly spec: ServerContainerSpec) {}

  /** The lane's container for the node's key: the running one, or a new one (another key's removed first). */
  async target(share: ServerShare, gpus: string): Promise<ExecTarget> {
    let held = this.lanes.get(share.lane);
    if (held && (held.key !== share.key || held.holder.exitCode !== null)) {
      await this.release(share.lane);
      held = undefined;
    }
    if (!held) {
      held = await this.start(share, gpus);
      this.lanes.set(share.lane, held);
    }
    const { id } = held;
    return {
      image: this.spec.image, secrets: this.spec.secrets,
      exec: (command, options) => execIn(id, command, options),
      containerId: () => id,
    };
  }

  /** Removes the lane's container (after its key's last node, or at the end). */
  async release(lane: number): Promise<void> {
    const held = this.lanes.get(lane);
    if (!held) return;
    this.lanes.delete(lane);
    await docker(["rm", "-f", held.name]);
    held.holder.stdin?.end();
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.lanes.keys()].map((lane) => this.release(lane)));
  }

  /** gpus: "none", "all" or a device list. */
  private async start(share: ServerShare, gpus: string): Promise<Held> {
    const s = this.spec;
    const name = `lem-srv-${share.key}-l${share.lane}-${s.runId}`;
    const args = ["run", "-i", ...containerOptions({
      name, labels: { ...ownerLabels(s.runId), [LABEL.node]: `server ${share.key}` }, gpus, shmSize: s.shmSize, memory: s.memory,
      user: containerUser(), projectDir: s.projectRoot, hfCache: s.hfCache,
    }), "-v", `${s.exchangeRoot}:${CONTAINER_EXCHANGE_ROOT}`, s.image, "sh", "-c", "cat >/dev/null"];
    // Its own process group: a terminal's Ctrl-C reaches lem, which decides what to stop.
    const holder = spawn(dockerBinary(), args, { stdio: ["pipe", "ignore", "pipe"], detached: true });
    let stderr = "";
    holder.stderr?.on("data", (d: Buffer) => (stderr += d));
    holder.on("error", () => undefined);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (holder.exitCode !== null) break;
      const inspect = await docker(["inspect", "-f", "{{.State.Running}} {{.Id}}", name]);
      const [running, id] = inspect.stdout.trim().split(" ");
      if (inspect.exitCode === 0 && running === "true" && id) return { key: share.key, name, holder, id };
      await sleep(100);
    }
    holder.stdin?.end();
    await docker(["rm", "-f", name]);
    throw new DockerError("container", `the server container ${name} did not start`, tail(stderr));
  }
}

function execIn(id: string, command: string[], options: { env?: Record<string, string>; envFile?: string }): RunningDocker {
  const args = ["exec"];
  for (const [k, v] of Object.entries(options.env ?? {})) args.push("-e", `${k}=${v}`);
  if (options.envFile) args.push("--env-file", options.envFile);
  return dockerProcess([...args, id, ...command]);
}
