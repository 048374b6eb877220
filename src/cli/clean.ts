import { readdirSync } from "node:fs";
import { parse } from "./args.js";
import { loadProject } from "./project.js";
import { out } from "./output.js";
import { makeSelector } from "../graph/select.js";

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
  const current = new Set(project.expanded.experiments.map((e) => e.hash));
  const select = makeSelector(positionals);
  const selected = new Set(project.nodes.filter(select).map((n) => n.hash));
  let stored: string[] = [];
  try { stored = readdirSync(project.store.root).filter((d) => /^[0-9a-f]{16}$/.test(d)); } catch { /* no store yet */ }
  const doomed = stored.filter((hash) => values.all || (positionals.length ? selected.has(hash) : !current.has(hash)));
  for (const hash of doomed) {
    if (!values["dry-run"]) project.store.remove(hash);
    out(`${values["dry-run"] ? "would remove" : "removed"} ${hash}`);
  }
  out(`${doomed.length} removed${values["dry-run"] ? " (dry run)" : ""}, ${stored.length - doomed.length} kept`);
  return 0;
}
