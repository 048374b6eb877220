import { checkCliRunner, plannedKind } from "../config/runner-resolution.js";
import { RUNNER_POLICIES } from "../exec/runner-kinds.js";
import { runnerSources, type Project } from "./project.js";
import type { RunnerKind } from "../config/runner-kinds.js";
import type { Backend } from "../lemfile/types.js";

/**
 * Nodes whose runner measures elsewhere (Slurm: the compute nodes) are planned against that
 * hardware, not this host's: a result carries the machine it was measured on. Each such kind says
 * where (RunnerPolicy.planningHardware); `probe` (a real build) lets it ask its machines now, and
 * `notify` gets its lines for stderr. The runner is resolved without asking Docker.
 */
export async function planOnCluster(project: Project, cli: string | undefined, probe: boolean, notify: (line: string) => void = () => {}): Promise<Project> {
  checkCliRunner(cli);
  const sources = runnerSources(project, cli);
  const kinds = new Map<RunnerKind, Set<Backend>>();
  for (const backend of new Set(project.nodes.map((n) => n.config.backend))) {
    const kind = plannedKind(backend, sources);
    kinds.set(kind, (kinds.get(kind) ?? new Set()).add(backend));
  }
  let hardwareFor = project.hardwareFor;
  for (const [kind, backends] of kinds) {
    const policy = RUNNER_POLICIES[kind];
    if (!("planningHardware" in policy)) continue;
    const configs = project.nodes.filter((n) => backends.has(n.config.backend)).map((n) => n.config);
    const there = await policy.planningHardware({ user: project.user, root: project.root, host: project.host, configs, probe, notify });
    if (!there) continue;
    const here = hardwareFor;
    hardwareFor = (config) => (backends.has(config.backend) ? there(config) : here(config));
  }
  return hardwareFor === project.hardwareFor ? project : { ...project, hardwareFor };
}
