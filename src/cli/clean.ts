import { readdirSync } from "node:fs";
import { parse } from "./args.js";
import { loadProject } from "./project.js";
import { out } from "./output.js";
import { makeSelector } from "../graph/select.js";
import { inputError } from "../errors.js";

export const CLEAN_HELP = `lem clean [SELECTOR...] — remove stored results

  (no selector)    remove results of configs no longer in the lemfile (orphans)
  SELECTOR         remove the selected experiments' results (name glob or hash prefix)
  --all            remove every stored result
  --dry-run        say what would be removed
  --lemfile PATH   the lemfile (default ./lemfile.ts)
`;

export async function cleanCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    lemfile: { type: "string" }, all: { type: "boolean" }, "dry-run": { type: "boolean" }, help: { type: "boolean", short: "h" },
  }, "clean");
  if (values.help) { out(CLEAN_HELP); return 0; }
  const project = await loadProject(values.lemfile);
  // An experiment lem could not evaluate (a typo, a dataset missing here) has a hash nobody knows:
  // its results would look orphaned. Only an explicit selector or --all may remove anything then.
  const invalid = project.expanded.invalid;
  if (invalid.length > 0 && !values.all && positionals.length === 0) {
    throw inputError(`${project.lemfile}: refusing to clean orphans while ${invalid.length} experiment(s) cannot be evaluated, since their stored results would look orphaned`,
      "fix the experiments named below and run lem clean again (or name what to remove: lem clean SELECTOR, lem clean --all)",
      invalid.map((bad) => `experiment "${bad.name}": ${bad.errors.join("; ")}`));
  }
  const current = new Set(project.expanded.experiments.map((e) => e.hash));
  const select = makeSelector(positionals);
  const selected = new Set(project.nodes.filter(select).map((n) => n.hash));
  let stored: string[] = [];
  try {
    stored = readdirSync(project.store.root, { withFileTypes: true }).filter((d) => d.isDirectory() && /^[0-9a-f]{16}$/.test(d.name)).map((d) => d.name);
  } catch { /* no store yet */ }
  const doomed = stored.filter((hash) => values.all || (positionals.length ? selected.has(hash) : !current.has(hash)));
  for (const hash of doomed) {
    if (!values["dry-run"]) project.store.remove(hash);
    out(`${values["dry-run"] ? "would remove" : "removed"} ${hash}`);
  }
  out(`${doomed.length} removed${values["dry-run"] ? " (dry run)" : ""}, ${stored.length - doomed.length} kept`);
  return 0;
}
