import { parse } from "./args.js";
import { projectRunners, runnerSettings } from "../project/project.js";
import { planCommand } from "../project/prologue.js";
import { projectSettings } from "../project/settings.js";
import { err, out, printable, statusNode } from "./output.js";
import { describeImages } from "../exec/runner-factory.js";
import { describeStackDifferences, stackDifferences } from "../report/software-stack.js";
import type { PlannedNode } from "../graph/plan.js";
import type { ResultStore } from "../store/store.js";

export const STATUS_HELP = `lem status [SELECTOR...] — each node: done, pending or failed, and why it would run

  --lemfile PATH   the lemfile (default ./lemfile.ts)
  --hardware FP    as on another machine (repeatable): gpu:<name>, cpu:<model> (see lem matrix --help)
  --skip-invalid   skip sweep points invalid only as a combination of values (as lem build --skip-invalid)
  --json           {"nodes":[{"name","hash","cycle","state","reason"}],"images":[{"backend","tag","digest","built"}],
                   "settings":{"<name>":{"value","source"}}}: each setting and the layer that gave it
                   (a flag, env:<VAR>, lemfile, .lem-config.yaml: <field>, default, detected)
`;

export async function statusCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { lemfile: { type: "string" }, json: { type: "boolean" }, hardware: { type: "string", multiple: true }, "skip-invalid": { type: "boolean" }, help: { type: "boolean", short: "h" } }, "status");
  if (values.help) { out(STATUS_HELP); return 0; }
  // --hardware names the machine; else Slurm nodes plan for the compute nodes when they are known.
  const { project, planned } = await planCommand(
    { lemfile: values.lemfile, skipInvalid: values["skip-invalid"], hardware: values.hardware, selectors: positionals },
    { notify: err, escape: printable });
  for (const line of mixedStackWarnings(project.store, planned)) err(`warning: ${printable(line)}`);
  const runners = await projectRunners(project, [...new Set(planned.map((n) => n.config.backend))]);
  const images = await describeImages(runnerSettings(project), runners);
  if (values.json) {
    out(JSON.stringify({ nodes: planned.map(statusNode), images, settings: projectSettings(project, runners) }));
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

/**
 * Configs whose done cycles (on the hardware planned for) ran on different software: the report
 * and lem compare average them, so status says so before anyone reads a figure.
 */
function mixedStackWarnings(store: ResultStore, planned: PlannedNode[]): string[] {
  const done = new Map<string, PlannedNode[]>();
  for (const node of planned) {
    if (node.state !== "done") continue;
    const key = `${node.hash}\u0000${node.hardware}`;
    done.set(key, [...(done.get(key) ?? []), node]);
  }
  const lines: string[] = [];
  for (const nodes of done.values()) {
    if (nodes.length < 2) continue;
    const { hash, hardware, names } = nodes[0];
    const cycles = new Set(nodes.map((n) => n.cycle));
    const diffs = stackDifferences(store.results(hash).filter((r) => r.hardware === hardware && cycles.has(r.cycle)));
    if (diffs.length) {
      lines.push(`${names[0]} (${hash}): cycles from mixed software stacks, averaged together by lem report and lem compare: ${describeStackDifferences(diffs)}; ` +
        `lem build --force ${names[0]} measures every cycle again on one stack`);
    }
  }
  return lines;
}
