import { spawnSync } from "node:child_process";
import { inputError } from "../errors.js";
import { gpusOnHost } from "../config/gpus.js";
import type { ExperimentConfig } from "../lemfile/types.js";

/** One GPU as nvidia-smi lists it: its index (PCI bus order), UUID and name. */
export interface Gpu {
  index: string;
  uuid?: string;
  name?: string;
}

/**
 * The GPUs on this host. `LEM_GPU_INVENTORY` ("0,1,2,3", or "0:GPU-ab12…,1:GPU-cd34…") replaces
 * nvidia-smi, so scheduling can be tried and tested on a machine without GPUs.
 */
export function detectGpus(env: NodeJS.ProcessEnv = process.env): Gpu[] {
  const fake = env.LEM_GPU_INVENTORY;
  if (fake !== undefined) {
    return fake.split(",").map((s) => s.trim()).filter(Boolean).map((entry) => {
      const [index, uuid] = entry.split(":");
      return uuid ? { index, uuid } : { index };
    });
  }
  const smi = spawnSync("nvidia-smi", ["--query-gpu=index,uuid,name", "--format=csv,noheader"], { encoding: "utf8", timeout: 10_000 });
  if (smi.status !== 0) return [];
  return smi.stdout.split("\n").map((line) => line.split(",").map((s) => s.trim())).filter((f) => f[0] !== "")
    .map(([index, uuid, name]) => ({ index, uuid, name }));
}

/**
 * `--gpus` / `gpus:` against the inventory: "all", or indices or UUIDs ("0,2", "GPU-ab12…").
 * A device that is not here, or listed twice, is an input error naming it.
 */
export function selectGpus(spec: string, inventory: Gpu[], source = "--gpus"): Gpu[] {
  const fix = inventory.length
    ? `use all, or some of: ${inventory.map((g) => g.index).join(",")} (nvidia-smi -L lists them)`
    : "run where nvidia-smi sees a GPU, or leave --gpus out to run one node at a time";
  if (spec.trim() === "all") {
    if (inventory.length === 0) throw inputError(`${source}: all: no GPU found on this machine (nvidia-smi lists none)`, fix);
    return inventory;
  }
  const wanted = spec.split(",").map((s) => s.trim());
  const chosen: Gpu[] = [];
  for (const id of wanted) {
    const byIndex = inventory.find((g) => g.index === id);
    const byUuid = id.length >= 8 ? inventory.filter((g) => g.uuid !== undefined && g.uuid.startsWith(id)) : [];
    if (!byIndex && byUuid.length > 1) {
      throw inputError(`${source}: "${id}" matches ${byUuid.length} GPUs: ${byUuid.map((g) => `${g.index} (${g.uuid})`).join(", ")}`,
        "give more of the UUID, or the GPU's index (nvidia-smi -L lists them)");
    }
    const gpu = byIndex ?? byUuid[0];
    if (!gpu) throw inputError(`${source}: no GPU "${id}" on this machine (expected all, or a list of indices or UUIDs like 0,1)`, fix);
    if (chosen.includes(gpu)) throw inputError(`${source}: GPU ${gpu.index} is listed twice`, "list each GPU once");
    chosen.push(gpu);
  }
  return chosen;
}

/**
 * GPUs one node needs: vLLM's tensor_parallel_size, else one; none for a run asked onto the CPU.
 */
export const gpusNeeded = (config: ExperimentConfig): number => gpusOnHost(config);

interface Waiter { count: number; grant: (ids: Gpu[]) => void }

/**
 * Hands out disjoint sets of GPUs, first come first served: a node waits until the GPUs it needs
 * are free, and a later, smaller request never overtakes it (so a tp=4 node is not starved by
 * tp=1 ones). A node that needs none takes all of them: it measures the CPU package, which
 * nodes on the GPUs would load too.
 */
export class DevicePool {
  private readonly free: Gpu[];
  private readonly waiting: Waiter[] = [];

  constructor(readonly gpus: Gpu[]) {
    this.free = [...gpus];
  }

  get size(): number { return this.gpus.length; }

  /** The GPUs a request of `count` gets (0 means the whole machine). */
  private want(count: number): number { return count === 0 ? this.gpus.length : count; }

  /** Resolves with the granted GPUs, or undefined when `signal` aborts first. */
  acquire(count: number, signal: AbortSignal): Promise<Gpu[] | undefined> {
    if (this.want(count) > this.gpus.length) throw new RangeError(`asked for ${count} GPUs of ${this.gpus.length}`);
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter: Waiter = { count: this.want(count), grant: (ids) => { signal.removeEventListener("abort", onAbort); resolve(ids); } };
      const onAbort = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        resolve(undefined);
        this.dispatch();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
      this.dispatch();
    });
  }

  release(ids: Gpu[]): void {
    // Back in inventory order, so the same GPUs go to the same slots run after run.
    for (const gpu of ids) if (!this.free.includes(gpu)) this.free.push(gpu);
    this.free.sort((a, b) => this.gpus.indexOf(a) - this.gpus.indexOf(b));
    this.dispatch();
  }

  private dispatch(): void {
    while (this.waiting.length > 0 && this.waiting[0].count <= this.free.length) {
      const waiter = this.waiting.shift()!;
      waiter.grant(this.free.splice(0, waiter.count));
    }
  }
}

/** What CUDA_VISIBLE_DEVICES and `docker run --gpus device=` get: UUIDs where known (order-proof). */
export const pinValue = (gpus: Gpu[]) => gpus.map((g) => g.uuid ?? g.index).join(",");

/** The quality flag on a result whose node ran while another node used this machine (--allow-shared-device). */
export const SHARED_DEVICE_FLAG = "shared_device";

export interface SharingPlan {
  /** Nodes at a time, and where that number came from ("--jobs 2", ".lem-config.yaml: jobs: 2"). */
  width: number;
  widthSource: string;
  /** --gpus: each node is pinned to GPUs of its own (a CPU node waits for the whole machine). */
  pinned: boolean;
  /** Nodes to measure on this host (a Slurm job runs on a compute node of its own). */
  onHost: number;
  allowShared: boolean;
}

/**
 * Two nodes at once on one CPU or GPU measure each other: their energy and latency mean nothing.
 * Refused (exit 2, before any node) unless --gpus gives each its own devices, or the user accepts
 * it with --allow-shared-device; then it returns true and each overlapping result is flagged.
 */
export function checkDeviceSharing(plan: SharingPlan): boolean {
  if (plan.pinned || plan.width < 2 || plan.onHost < 2) return false;
  if (plan.allowShared) return true;
  throw inputError(
    `${plan.widthSource} would run ${Math.min(plan.width, plan.onHost)} nodes at once on this machine's CPU and GPU: each one's energy and latency would include the others'`,
    "use --jobs 1 (and jobs: 1 in .lem-config.yaml); or --gpus all|0,1,… to give each node GPUs of its own; " +
      `or --allow-shared-device to run them anyway, each result that overlapped another flagged ${SHARED_DEVICE_FLAG}`,
  );
}
