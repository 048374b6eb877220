import { parse } from "./args.js";
import { loadProject, planOnCluster, planProject, projectRunners, requireMatch, runnerSettings, warnPlan } from "./project.js";
import { out, statusNode } from "./output.js";
import { describeImages } from "../exec/runner-factory.js";

export const STATUS_HELP = `lem status [SELECTOR...] — each node: done, pending or failed, and why it would run

  --lemfile PATH   the lemfile (default ./lemfile.ts)
  --hardware FP    as on another machine (repeatable): gpu:<name>, cpu:<model> (see lem matrix --help)
  --skip-invalid   skip sweep points invalid only as a combination of values (as lem build --skip-invalid)
  --json           {"nodes":[{"name","hash","cycle","state","reason"}],"images":[{"backend","tag","digest","built"}]}
`;

export async function statusCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { lemfile: { type: "string" }, json: { type: "boolean" }, hardware: { type: "string", multiple: true }, "skip-invalid": { type: "boolean" }, help: { type: "boolean", short: "h" } }, "status");
  if (values.help) { out(STATUS_HELP); return 0; }
  const loaded = await loadProject(values.lemfile, { skipInvalid: values["skip-invalid"], hardware: values.hardware });
  // --hardware names the machine; else Slurm nodes plan for the compute nodes when they are known.
  const project = values.hardware ? loaded : await planOnCluster(loaded, undefined, false);
  const { planned, snapshot } = planProject(project, positionals);
  // The same rule as lem build: a selector that matches nothing is a mistake, not an empty status.
  requireMatch(positionals, planned.length);
  warnPlan(project, snapshot);
  const images = await describeImages(runnerSettings(project), await projectRunners(project, [...new Set(planned.map((n) => n.config.backend))]));
  if (values.json) {
    out(JSON.stringify({ nodes: planned.map(statusNode), images }));
    return 0;
  }
  const width = Math.max(10, ...planned.map((n) => n.names[0].length + String(n.cycle).length + 2));
  for (const node of planned) {
    const label = `${node.names[0]} #${node.cycle}`.padEnd(width);
    const why = node.reason ? `  ${node.reason}` : "";
    out(`${node.state.padEnd(7)} ${label} ${node.hash}${why}${node.error ? `: ${node.error}` : ""}`);
  }
  const count = (state: string) => planned.filter((n) => n.state === state).length;
  out(`\n${count("done")} done, ${count("pending")} pending, ${count("failed")} failed  (hardware: ${project.host.gpu ?? project.host.cpu})`);
  for (const image of images) out(`image ${image.backend}: ${image.tag} ${image.digest ?? "(not built yet: lem build builds it)"}`);
  return 0;
}
