import { slurm } from "./slurm-cli.js";

/** sbatch is installed and squeue reaches slurmctld: else why not, and the fix. */
export async function checkSlurmAnswers(): Promise<{ message: string; fix: string } | undefined> {
  const version = await slurm("sbatch", ["--version"]);
  if (version.code !== 0) {
    return { message: "the slurm runner needs Slurm's client commands, and `sbatch` does not run here", fix: "run lem on a login node of the cluster (or install slurm-client), or use --runner local" };
  }
  const queue = await slurm("squeue", ["-h", "-o", "%i", "-u", process.env.USER ?? "root"]);
  if (queue.code !== 0) {
    const why = queue.stderr.trim().split("\n")[0] || `exit ${queue.code}`;
    return { message: `the slurm runner needs slurmctld, and squeue does not reach it (${why})`, fix: "check SLURM_CONF points at the cluster's slurm.conf and that slurmctld and munge run (scontrol ping)" };
  }
  return undefined;
}
