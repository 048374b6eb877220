import type { ExperimentConfig } from "../lemfile/types.js";
import { BACKEND_DEFAULTS } from "./defaults.js";

// How many GPUs a config's run uses: the one home of that fact. The host's GPU pool (exec/devices),
// the hardware a node is planned against (exec/hardware, exec/slurm), a Slurm job's request and
// the cost model all start from here.

/** GPUs a run spreads over when it runs on GPUs: vLLM's tensor_parallel_size, else one. */
export const gpusPerRun = (config: ExperimentConfig): number =>
  config.backend === "vllm" ? config.vllm?.engine?.tensor_parallel_size ?? BACKEND_DEFAULTS.vllm.engine.tensor_parallel_size : 1;

/** The config asks to run on the CPU (pytorch.device: cpu), whatever GPUs there are. */
export const asksForCpu = (config: ExperimentConfig): boolean => config.pytorch?.device === "cpu";

/** The config asks for a GPU outright (pytorch.device: cuda; "auto" takes one where there is one). */
export const asksForGpu = (config: ExperimentConfig): boolean => config.pytorch?.device === "cuda";

/** GPUs a node takes on a machine that has them: gpusPerRun, none for a pytorch run asked onto the CPU. */
export const gpusOnHost = (config: ExperimentConfig): number =>
  config.backend !== "vllm" && asksForCpu(config) ? 0 : gpusPerRun(config);
