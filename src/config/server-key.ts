import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical-json.js";
import { BACKEND_DEFAULTS, EXPERIMENT_DEFAULTS } from "./defaults.js";
import { isSynthetic } from "./models.js";
import { schemas } from "./schemas.js";
import { schemaDefaults } from "./schema-defaults.js";
import type { ExperimentConfig } from "../lemfile/types.js";

/** Bumped when what the key covers changes, so keys of different lem versions never match. */
export const SERVER_KEY_VERSION = 1;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** The serving section's defaults (serving has no default of its own: schemaDefaults' sections). */
const SERVING_DEFAULTS = (schemaDefaults(schemas.experiment).sections.serving ?? {}) as Json;

/** `over` on top of `under`, objects key by key (a config that writes a default equals one that leaves it out). */
function filled(under: unknown, over: unknown): Json {
  const out: Json = isObject(under) ? { ...under } : {};
  if (!isObject(over)) return out;
  for (const [key, value] of Object.entries(over)) {
    out[key] = isObject(value) && isObject(out[key]) ? filled(out[key], value) : value;
  }
  return out;
}

/**
 * What the serving scenario's server process depends on, and nothing else: two serving nodes with
 * the same parts can share one server (docker/harness/lem_harness/serving/registry.py), started once.
 * The request rate, the number of requests, the dataset, the prompts' lengths, the warmup and the
 * energy settings are the load's, not the server's.
 *
 * - backend, model, precision (the server's --dtype);
 * - pytorch (`transformers serve`): device, attn_implementation, num_threads (the server's
 *   OMP_NUM_THREADS), serving.engine (its KV cache and batch flags), and the decoder's sampling
 *   fields: transformers serve's continuous batching takes the batch's sampling settings from the
 *   first request it serves and keeps them (ignore_eos and max tokens are per request);
 * - vllm (`vllm serve`): vllm.engine (its flags) and random_seed (its --seed); sampling is per request;
 * - random_seed for a synthetic:<preset> model: the saved folder's weights are seeded by it
 *   (serving/model_cache.py: <cache>/models/<preset>-<seed>).
 */
export function serverParts(config: ExperimentConfig): Json | null {
  if (config.scenario !== "serving") return null;
  const backend = config.backend ?? EXPERIMENT_DEFAULTS.backend;
  const seed = config.random_seed ?? EXPERIMENT_DEFAULTS.random_seed;
  const parts: Json = {
    server_key_version: SERVER_KEY_VERSION, backend, model: config.model,
    precision: config.precision ?? EXPERIMENT_DEFAULTS.precision,
  };
  if (isSynthetic(config.model) || backend === "vllm") parts.random_seed = seed;
  if (backend === "vllm") {
    parts.vllm_engine = filled(BACKEND_DEFAULTS.vllm.engine, config.vllm?.engine);
  } else {
    const pytorch = filled(BACKEND_DEFAULTS.pytorch, config.pytorch);
    const decoder = filled(EXPERIMENT_DEFAULTS.decoder, config.decoder);
    parts.pytorch = { device: pytorch.device, attn_implementation: pytorch.attn_implementation, num_threads: pytorch.num_threads ?? null };
    parts.serving_engine = filled(SERVING_DEFAULTS.engine, config.serving?.engine);
    parts.batch_sampling = {
      temperature: decoder.temperature, do_sample: decoder.do_sample, top_k: decoder.top_k,
      top_p: decoder.top_p, repetition_penalty: decoder.repetition_penalty,
    };
  }
  return parts;
}

/**
 * The server key of a serving config: 16 hex digits of sha256 over the canonical JSON of
 * serverParts; null for an offline config. The one home of the key: lem writes it into the
 * envelope (`server_key`, docker/PROTOCOL.md) and the harness reads it from there, never recomputing it.
 */
export function serverKey(config: ExperimentConfig): string | null {
  const parts = serverParts(config);
  if (parts === null) return null;
  return createHash("sha256").update(canonicalJson(parts)).digest("hex").slice(0, 16);
}
