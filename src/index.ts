// The public API a lemfile imports.
export { defineLemfile, sweep } from "./lemfile/define.js";
export type {
  Backend, BaselineConfig, DecoderConfig, EnergyConfig, ExecutionConfig, ExperimentConfig,
  ExperimentEntry, Lemfile, Precision, PytorchConfig, RunnerSpec, Scenario, ServingConfig, SweepAxes, SweepOptions, SweepPath,
  VllmConfig, WarmupConfig,
} from "./lemfile/types.js";
