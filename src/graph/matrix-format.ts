import { stringify } from "yaml";
import { inputError } from "../errors.js";
import type { MatrixPlan } from "./matrix.js";

export type MatrixFormat = "github" | "gitlab" | "json";

/** The CI systems' own limits, checked before anything is printed. */
export const LIMITS = {
  /** GitHub Actions: jobs per matrix. */
  githubJobs: 256,
  /** GitHub Actions: a job's outputs, in bytes ("1 MB"). */
  githubOutputBytes: 1_000_000,
  /** GitLab: jobs one parallel:matrix makes. */
  gitlabJobs: 200,
  /** Linux: one argument (MAX_ARG_STRLEN), which --shard-hashes must fit in. */
  argumentBytes: 131_072,
} as const;

export function checkMaxJobs(format: MatrixFormat, maxJobs: number): void {
  const limit = format === "github" ? LIMITS.githubJobs : format === "gitlab" ? LIMITS.gitlabJobs : undefined;
  if (limit !== undefined && maxJobs > limit) {
    throw inputError(`--max-jobs ${maxJobs}: ${format === "github" ? "GitHub Actions allows at most 256 jobs per matrix" : "GitLab's parallel:matrix makes at most 200 jobs"}`,
      `use --max-jobs ${limit} or fewer (each shard then measures more nodes)`);
  }
}

/** GitHub's `strategy.matrix`: `{"include":[{"shard":"1/4","name":…,"hashes":"h1,h2"}]}` on one line. */
export function githubMatrix(plan: MatrixPlan): string {
  const text = JSON.stringify({ include: plan.shards.map((s) => ({ ...s, hashes: s.hashes.join(",") })) });
  if (Buffer.byteLength(text) > LIMITS.githubOutputBytes) {
    throw inputError(`the matrix is ${Buffer.byteLength(text)} bytes: GitHub Actions allows 1 MB per job output (it lists every pending config's hash, ${plan.pending} nodes)`,
      "measure part of the lemfile per workflow run (lem matrix 'sweep-a-*', then the rest), or commit the results of a first run so fewer nodes are pending");
  }
  return text;
}

/**
 * A GitLab child pipeline (YAML) to append to one that defines the hidden jobs `.lem-shard` and
 * `.lem-merge` (examples/gitlab-ci.yml): one `parallel:matrix` job per shard over LEM_SHARD, each
 * shard's hashes in LEM_SHARD_HASHES_<I> (not in the matrix: GitLab puts matrix values in job
 * names, which may not pass 255 characters). An empty plan gives one job that says so.
 */
export function gitlabPipeline(plan: MatrixPlan): string {
  if (plan.shards.length === 0) {
    return stringify({ "lem-nothing-pending": { script: ["echo 'lem matrix: nothing pending, every node is measured'"] } });
  }
  const variables = Object.fromEntries(plan.shards.map((s, i) => [`LEM_SHARD_HASHES_${i + 1}`, s.hashes.join(",")]));
  const doc = {
    variables,
    "lem-shard": { extends: ".lem-shard", parallel: { matrix: [{ LEM_SHARD: plan.shards.map((s) => s.shard) }] } },
    "lem-merge": { extends: ".lem-merge", needs: ["lem-shard"] },
  };
  const header = plan.shards.map((s) => `# ${s.shard} ${s.name}: ${s.nodes} nodes, ${s.configs} configs, ~${s.estimated_seconds} s`).join("\n");
  return `# lem matrix --format gitlab\n${header}\n${stringify(doc, { lineWidth: 0 })}`;
}

/** Plain JSON for any other CI or a script. */
export function jsonMatrix(plan: MatrixPlan): string {
  return JSON.stringify({
    shards: plan.shards, pending: plan.pending, measured: plan.measured,
    imbalance: plan.imbalance === null ? null : Math.round(plan.imbalance * 1000) / 1000,
  });
}

/** Every shard's --shard-hashes argument fits in one command-line argument. */
export function checkArgumentSize(plan: MatrixPlan): void {
  const big = plan.shards.find((s) => s.hashes.length * 17 > LIMITS.argumentBytes);
  if (big) {
    throw inputError(`shard ${big.shard} has ${big.configs} configs: its --shard-hashes argument would pass the 128 KiB a command-line argument may hold`,
      "raise --max-jobs so each shard holds fewer configs");
  }
}

export function formatMatrix(plan: MatrixPlan, format: MatrixFormat): string {
  checkArgumentSize(plan);
  return format === "github" ? githubMatrix(plan) : format === "gitlab" ? gitlabPipeline(plan) : jsonMatrix(plan);
}
