// USER_CONFIG_SHAPE: the UserConfig type (src/config/user-config.ts) written out key by key, checked
// by the compiler against the type itself (Shape<UserConfig>) and by test/user-config-types.test.ts
// against schemas/user-config.schema.json. This file imports nothing but the type, so that test can
// compile it (and edited copies of it) quickly.
import type { UserConfig } from "../../src/config/user-config.js";

type Presence<T, K extends keyof T> = {} extends Pick<T, K> ? "optional" : "required";
type Kind<V> = [V] extends [readonly string[]] ? "string[]"
  : [V] extends [string] ? "string" : [V] extends [string | null] ? "string|null"
  : [V] extends [number] ? "number" : [V] extends [number | null] ? "number|null"
  : [V] extends [boolean] ? "boolean" : [V] extends [object] ? "object" : "unknown";
type Leaf<T, K extends keyof T> = `${Presence<T, K>} ${Kind<Exclude<T[K], undefined>>}`;
/** Each key of T: "required|optional <kind>", or for an object, that and its own keys' shape. */
export type Shape<T> = {
  [K in keyof T]-?: Exclude<T[K], undefined> extends readonly unknown[] ? Leaf<T, K>
    : Exclude<T[K], undefined> extends object ? { is: Leaf<T, K>; fields: Shape<Exclude<T[K], undefined>> } : Leaf<T, K>;
};

export const USER_CONFIG_SHAPE: Shape<UserConfig> = {
  results_dir: "required string",
  python: "optional string",
  jobs: "required number",
  gpus: "required string|null",
  timeout_seconds: "required number|null",
  grid_intensity: "optional number",
  grid_intensity_source: "optional string",
  runners: { is: "optional object", fields: { pytorch: "optional string", vllm: "optional string" } },
  docker: {
    is: "required object",
    fields: {
      strategy: "required string",
      warmup_delay: "required number",
      auto_teardown: "required boolean",
      shm_size: "required string",
      gpus: "required string",
      memory: "optional string",
      secrets: "required string[]",
      health_check: {
        is: "required object",
        fields: {
          enabled: "required boolean",
          interval_experiments: "required number",
          gpu_memory_threshold_pct: "required number",
          restart_on_failure: "required boolean",
          max_restarts: "required number",
        },
      },
      cold_start: { is: "required object", fields: { force_cold_start: "required boolean" } },
    },
  },
  slurm: {
    is: "required object",
    fields: {
      partition: "optional string",
      account: "optional string",
      qos: "optional string",
      time_limit: "optional string",
      gpus_per_node: "optional number",
      gres: "optional string",
      sbatch_args: "required string[]",
      python: "required string",
      container: "optional string",
      hardware: "optional string[]",
      shared_dir: "required string",
      poll_max_seconds: "required number",
      max_jobs: "required number",
      arrays: "required boolean",
      array_throttle: "optional number",
    },
  },
};
