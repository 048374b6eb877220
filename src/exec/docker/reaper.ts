import { docker } from "./docker-cli.js";
import { LABEL } from "./labels.js";
import { ownerDead } from "../../store/process-identity.js";

/**
 * Removes containers (and compose networks) left by a lem on this host that died without
 * cleaning up (SIGKILL, power loss). A container whose owner is alive belongs to a running
 * build and is left alone; an owner whose pid now belongs to a process started at another time,
 * or one from another boot, is dead (the same rule as store locks). Returns the names removed.
 */
export async function reapOrphans(): Promise<string[]> {
  const ps = await docker(["ps", "-a", "--filter", `label=${LABEL.managed}=1`, "--format",
    `{{.Names}}\t{{.Label "${LABEL.ownerPid}"}}\t{{.Label "${LABEL.ownerHost}"}}\t{{.Label "com.docker.compose.project"}}\t{{.Label "${LABEL.ownerStart}"}}\t{{.Label "${LABEL.ownerBoot}"}}`]);
  if (ps.exitCode !== 0) return [];
  const orphans = orphanRows(ps.stdout);
  if (orphans.length === 0) return [];
  await docker(["rm", "-f", ...orphans.map(([name]) => name)]);
  const projects = [...new Set(orphans.map(([, , , project]) => project).filter(Boolean))];
  for (const project of projects) await docker(["network", "rm", `${project}_default`]);
  return orphans.map(([name]) => name);
}

/**
 * The rows of that `docker ps` listing (name, pid, host, compose project, start, boot) whose owner
 * is provably dead. Owner pid 0 marks services left up on purpose (auto_teardown: false).
 */
export function orphanRows(listing: string): string[][] {
  return listing.split("\n").filter(Boolean).map((line) => line.split("\t"))
    .filter(([, pid, host, , start, boot]) => Number(pid) > 0 && ownerDead({ pid: Number(pid), host, proc_start: start || undefined, boot_id: boot || undefined }));
}
