import type { NodeError } from "../events.js";
import type { JobState } from "./slurm-cli.js";

/**
 * A job state that is Slurm's verdict rather than the harness's: its error and fix. COMPLETED and
 * FAILED are undefined here: the harness's own exit code and error payload say more.
 */
export function jobStateError(jobId: string, job: JobState, output: string): NodeError | undefined {
  const where = `job ${jobId}; its output is kept in ${output}`;
  switch (job.state) {
    case "TIMEOUT":
      return { type: "SlurmTimeout", message: `Slurm stopped the job at its time limit (${where})`,
        fix: "raise slurm.time_limit in .lem-config.yaml (sbatch --time), or lower n" };
    case "OUT_OF_MEMORY":
      return { type: "SlurmOutOfMemory", message: `the job ran out of the memory Slurm gave it (${where})`,
        fix: 'ask for more memory: slurm.sbatch_args: ["--mem=32G"] in .lem-config.yaml, or lower batch_size' };
    case "NODE_FAIL":
    case "BOOT_FAIL":
      return { type: "SlurmNodeFail", message: `the compute node failed while the job ran (${job.state}, ${where})`,
        fix: "run lem build again (the node is retried); if it recurs, exclude the node: slurm.sbatch_args: [\"--exclude=<node>\"]" };
    case "CANCELLED":
    case "PREEMPTED":
    case "DEADLINE":
      return { type: "SlurmCancelled", message: `the job was ${job.state.toLowerCase()} outside lem (${where})`,
        fix: "someone ran scancel, or the job was preempted: run lem build again, or pick a partition/qos without preemption (slurm.partition, slurm.qos)" };
    case "FAILED":
      return job.exitCode === 0 && job.signal === null
        ? { type: "SlurmJobFailed", message: `the job failed before the harness ran (${job.reason ?? "no reason given"}; ${where})`,
          fix: "read the job output; check slurm.python (or slurm.container) exists on the compute nodes and the shared folder is mounted there" }
        : undefined;
    default:
      return undefined;
  }
}

/**
 * A server job (one job for the serving nodes of one server key) left the queue while a node was on
 * it, with no verdict of Slurm's own: its worker failed or never ran.
 */
export function serverJobEndedError(jobId: string, job: JobState | undefined, output: string): NodeError {
  const how = job ? `${job.state}, exit ${job.exitCode ?? "?"}${job.reason && job.reason !== "None" ? `, ${job.reason}` : ""}` : "Slurm keeps no record of how";
  return {
    type: "SlurmJobFailed",
    message: `the server job ${jobId} ended (${how}) before this node finished; its output is kept in ${output}`,
    fix: "read the job output; check that slurm.python (or slurm.container) runs this lem's harness on the compute nodes " +
      "(python -m lem_harness.serving.job_worker must exist there: rebuild an older image) and that the shared folder is mounted there",
  };
}
