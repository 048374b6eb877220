import { hostname } from "node:os";
import { docker } from "./docker-cli.js";
import { LABEL } from "./labels.js";
import { processAlive } from "../../store/lock.js";


/**
 * Removes containers (and compose networks) left by a lem on this host that died without
 * cleaning up (SIGKILL, power loss). A container whose owner is alive belongs to a running
 * build and is left alone. Returns the names removed.
 */
export async function reapOrphans(): Promise<string[]> {
  const ps = await docker(["ps", "-a", "--filter", `label=${LABEL.managed}=1`, "--format",
    `{{.Names}}\t{{.Label "${LABEL.ownerPid}"}}\t{{.Label "${LABEL.ownerHost}"}}\t{{.Label "com.docker.compose.project"}}`]);
  if (ps.exitCode !== 0) return [];
  const orphans = ps.stdout.split("\n").filter(Boolean).map((line) => line.split("\t"))
    .filter(([, pid, host]) => host === hostname() && Number(pid) > 0 && !processAlive(Number(pid)));
  if (orphans.length === 0) return [];
  await docker(["rm", "-f", ...orphans.map(([name]) => name)]);
  const projects = [...new Set(orphans.map(([, , , project]) => project).filter(Boolean))];
  for (const project of projects) await docker(["network", "rm", `${project}_default`]);
  return orphans.map(([name]) => name);
}
