import { slurm } from "./slurm-cli.js";

/** sbatch is installed and squeue reaches slurmctld: else why not, and the fix. */
export async function checkSlurmAnswers(): Promise<{ message: string; fix: string } | undefined> {
  const version = await slurm("sbatch", ["--version"], 5_000);
  if (version.code !== 0 && version.code !== 127) {
    const why = version.stderr.trim().split("\n")[0] || (version.code === 124 ? "nothing within 5 s" : `exit ${version.code}`);
    return { message: `the slurm runner cannot use this cluster's configuration: sbatch says ${why}`, fix: "point SLURM_CONF at the cluster's slurm.conf (or unset it to use the default), or use --runner local" };
  }
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
