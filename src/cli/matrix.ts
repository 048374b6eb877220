import { appendFileSync } from "node:fs";
import { parse, positiveInt } from "./args.js";
import { planCommand } from "../project/prologue.js";
import { out, err, printable } from "./output.js";
import { inputError } from "../errors.js";
import { checkAppendTarget, writeFailed } from "./output-target.js";
import { costModel } from "../graph/cost-model.js";
import { planMatrix } from "../graph/matrix.js";
import { checkMaxJobs, formatMatrix, type MatrixFormat } from "../graph/matrix-format.js";
import { storedWallTimes } from "../store/wall-times.js";
import type { ExperimentConfig } from "../lemfile/types.js";

export const MATRIX_HELP = `lem matrix [SELECTOR...] — the pending nodes as a CI matrix, in shards balanced by expected time

  SELECTOR               experiment name (glob: * ?) or hash prefix; default: all
  --lemfile PATH         the lemfile (default ./lemfile.ts)
  --max-jobs N           at most N shards (default 4; GitHub: ≤ 256, GitLab: ≤ 200); never an empty one
  --format FORMAT        github (default): {"include":[{"shard":"1/4","name","nodes","configs","estimated_seconds","hashes"}]}
                         gitlab: a child pipeline (YAML) with parallel:matrix over LEM_SHARD
                         json:   {"shards":[...],"pending","measured","imbalance"} for any other CI or a script
  --github-output NAME   append NAME=<matrix> and NAME_jobs=<count> to $GITHUB_OUTPUT instead of printing
  --hardware FP          plan for the shards' machines, not this one (repeatable): gpu:<name>, cpu:<model>,
                         as \`lem doctor\` prints them there; e.g. a CPU plan job for GPU shards
  --skip-invalid         skip sweep points invalid only as a combination of values

Each shard job runs: lem build --shard <shard> --shard-hashes <hashes>   (exactly that entry's configs)
Expected seconds: the config's stored wall time on the shards' hardware, else prompts × tokens × model size,
scaled by what is measured. The imbalance (max/mean) goes to stderr. Nothing pending: an empty matrix
({"include":[]}, NAME_jobs=0).
`;

const FORMATS: readonly MatrixFormat[] = ["github", "gitlab", "json"];

export async function matrixCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    lemfile: { type: "string" }, "max-jobs": { type: "string" }, format: { type: "string" },
    "github-output": { type: "string" }, hardware: { type: "string", multiple: true }, "skip-invalid": { type: "boolean" }, help: { type: "boolean", short: "h" },
  }, "matrix");
  if (values.help) { out(MATRIX_HELP); return 0; }
  const maxJobs = positiveInt(values["max-jobs"], "--max-jobs") ?? 4;
  const format = (values.format ?? "github") as MatrixFormat;
  if (!FORMATS.includes(format)) throw inputError(`--format: expected github, gitlab or json, got "${values.format}"`, "e.g. --format gitlab");
  checkMaxJobs(format, maxJobs);
  const outputName = values["github-output"];
  const outputFile = outputName === undefined ? undefined : githubOutputFile(outputName, format);

  // --hardware names the machine; else Slurm nodes plan for the compute nodes when they are known.
  const { project, planned, snapshot } = await planCommand(
    { lemfile: values.lemfile, skipInvalid: values["skip-invalid"], hardware: values.hardware, selectors: positionals },
    { notify: err, escape: printable });

  const configs = new Map<string, { config: ExperimentConfig; hardware: string }>();
  for (const node of planned) if (!configs.has(node.hash)) configs.set(node.hash, { config: node.config, hardware: node.hardware });
  const cost = costModel(storedWallTimes(project.store, snapshot, configs));
  const plan = planMatrix(planned, cost, maxJobs);
  const text = formatMatrix(plan, format);

  if (plan.shards.length === 0) err("lem matrix: nothing pending: an empty matrix");
  else {
    const mean = plan.shards.reduce((sum, s) => sum + s.estimated_seconds, 0) / plan.shards.length;
    err(`lem matrix: ${plan.pending} pending nodes in ${plan.shards.length} shards, ~${mean.toFixed(1)} s each; imbalance ${plan.imbalance!.toFixed(3)} (max/mean); ` +
      `${plan.measured} nodes estimated from stored wall times, ${plan.pending - plan.measured} from the cost model${plan.measured ? ` (scaled ×${cost.scale.toPrecision(3)})` : ""}`);
  }
  if (outputFile !== undefined) {
    try {
      appendFileSync(outputFile, `${outputName}=${text}\n${outputName}_jobs=${plan.shards.length}\n`);
    } catch (error) {
      throw writeFailed(error, outputFile, "$GITHUB_OUTPUT");
    }
    err(`lem matrix: wrote ${outputName} and ${outputName}_jobs to $GITHUB_OUTPUT`);
  } else {
    out(text);
  }
  return 0;
}

/** $GITHUB_OUTPUT, checked before the lemfile loads: a job output is one line of JSON under a plain name. */
function githubOutputFile(name: string, format: MatrixFormat): string {
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw inputError(`--github-output: "${name}" is not an output name`, "letters, digits, _ and -, e.g. --github-output matrix");
  if (format === "gitlab") throw inputError("--github-output writes a GitHub job output; --format gitlab is a YAML document", "drop one of them");
  const file = process.env.GITHUB_OUTPUT;
  if (!file) throw inputError("--github-output: $GITHUB_OUTPUT is not set (it is inside a GitHub Actions step)", "run it in a workflow step, or drop --github-output to print the matrix");
  checkAppendTarget(file, "$GITHUB_OUTPUT");
  return file;
}
