import { spawn } from "node:child_process";
import { join } from "node:path";
import { constants } from "node:os";
import { openHarnessLog, runInExchangeDir, TailBuffer, type ExchangeDir, type LaunchOutcome } from "./exchange-dir.js";
import { watchInterrupts } from "./interrupts.js";
import type { Runner, RunContext, RunOutcome, RunnerMeta } from "./runner.js";
import type { PlannedNode } from "../graph/plan.js";

import { HARNESS_DIR } from "../paths.js";
import { harnessEnv } from "../env.js";
import { pinValue } from "./devices.js";
import type { ServerRegistries } from "./server-registry.js";

/** How long a stopped harness gets to exit on SIGTERM before it is killed. */
const GRACE_MS = 10_000;

/**
 * Runs the harness as a child process on this machine. It gets its own process group, so a
 * terminal's Ctrl-C reaches lem only and lem decides: SIGTERM first, SIGKILL on the second.
 * (node:child_process rather than zx here: we need the process group and exact signals.)
 */
export class LocalRunner implements Runner {
  readonly kind = "local" as const;
  constructor(
    private readonly python: string,
    private readonly source: string,
    /** The lemfile's folder: the harness's working dir, so relative dataset paths resolve. */
    private readonly projectRoot?: string,
    /** Where serving nodes' shared servers live, per lane (server-registry.ts). */
    private readonly servers?: ServerRegistries,
  ) {}

  run(node: PlannedNode, ctx: RunContext): Promise<RunOutcome> {
    const meta: RunnerMeta = { runner_type: "local", runner_image: null, runner_source: this.source, image_digest: null };
    return runInExchangeDir(node, ctx, meta, (x) => this.launch(x, ctx));
  }

  /** Serving nodes share their lane's server (the harness's serving/registry.py); the key's last node stops it. */
  private serverEnv(ctx: RunContext): Record<string, string> {
    if (!ctx.server || !this.servers) return {};
    return { LEM_SERVER_DIR: this.servers.dirFor(ctx.server.lane), ...(ctx.server.last ? { LEM_SERVER_LAST: "1" } : {}) };
  }

  private launch(x: ExchangeDir, ctx: RunContext): Promise<LaunchOutcome> {
    return new Promise((resolve, reject) => {
      const log = openHarnessLog(x);
      const child = spawn(this.python, ["-m", "lem_harness"], {
        cwd: this.projectRoot ?? x.dir,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          PYTHONPATH: [HARNESS_DIR, process.env.PYTHONPATH].filter(Boolean).join(":"),
          PYTHONUNBUFFERED: "1",
          // CUDA numbers GPUs fastest-first by default, NVML by PCI bus: one order, so an index names one card.
          CUDA_DEVICE_ORDER: "PCI_BUS_ID",
          ...harnessEnv({ CONFIG_PATH: join(x.dir, x.configFile), PARENT_PID: String(process.pid) }),
          // --gpus: the node sees only the GPUs it holds (UUIDs, so CUDA's own ordering cannot differ).
          ...(ctx.devices ? { CUDA_VISIBLE_DEVICES: pinValue(ctx.devices) } : {}),
          ...this.serverEnv(ctx),
        },
      });
      const tail = new TailBuffer();
      child.stdout.pipe(log, { end: false });
      child.stderr.on("data", (chunk: Buffer) => { tail.push(chunk); log.write(chunk); });
      const signalGroup = (signal: NodeJS.Signals) => {
        try { process.kill(-child.pid!, signal); } catch { /* already gone */ }
      };
      let killTimer: NodeJS.Timeout | undefined;
      const watch = watchInterrupts(ctx, {
        terminate: () => { signalGroup("SIGTERM"); killTimer ??= setTimeout(() => signalGroup("SIGKILL"), GRACE_MS); },
        kill: () => signalGroup("SIGKILL"),
      });
      const cleanup = () => { watch.dispose(); clearTimeout(killTimer); };

      child.on("error", (error: NodeJS.ErrnoException) => {
        cleanup();
        if (error.code === "ENOENT") {
          resolve({ exitCode: null, stderrTail: "", interrupted: watch.interrupted, timedOut: watch.timedOut, error: {
            type: "PythonNotFound", message: `cannot run ${this.python}: not found`,
            fix: "install Python 3 with torch, or point LEM_PYTHON at one (lem doctor shows what it finds)" } });
        } else reject(error);
      });
      child.on("close", (code, signal) => {
        cleanup();
        log.end();
        // Whatever the harness left in its process group would outlive the node: end it.
        signalGroup("SIGKILL");
        const exitCode = code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : null);
        resolve({ exitCode, signal, stderrTail: tail.toString(), interrupted: watch.interrupted, timedOut: watch.timedOut });
      });
    });
  }
}
