import { parse } from "./args.js";
import { loadProject } from "../project/project.js";
import { out, printable } from "./output.js";
import { makeSelector } from "../graph/select.js";
import { inputError } from "../errors.js";
import { confirm } from "./confirm.js";
import { ResultStore } from "../store/store.js";

/** --all removes every measurement there is: as build does for persistent containers, ask first. */
async function confirmAll(count: number, root: string): Promise<void> {
  if (!process.stdin.isTTY) {
    throw inputError(`lem clean --all would remove all ${count} stored config(s) in ${root}, and there is no terminal to ask on`,
      "pass --yes to confirm (lem clean --all --dry-run lists what it would remove)");
  }
  if (!(await confirm(`Remove all ${count} stored config(s) and their results in ${root}?`, false))) {
    throw inputError("lem clean --all declined: nothing removed", "run lem clean --all --dry-run to see what it would remove, or remove only some: lem clean SELECTOR");
  }
}

export const CLEAN_HELP = `lem clean [SELECTOR...] — remove stored results

  (no selector)    remove results of configs no longer in the lemfile (orphans)
  SELECTOR         remove the selected experiments' results (name glob or hash prefix)
  --all            remove every stored result (asks first)
  --yes            do not ask before --all removes everything
  --dry-run        say what would be removed
  --lemfile PATH   the lemfile (default ./lemfile.ts)
`;

export async function cleanCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    lemfile: { type: "string" }, all: { type: "boolean" }, yes: { type: "boolean" }, "dry-run": { type: "boolean" }, help: { type: "boolean", short: "h" },
  }, "clean");
  if (values.help) { out(CLEAN_HELP); return 0; }
  const project = await loadProject(values.lemfile);
  // An experiment lem could not evaluate (a typo, a dataset missing here) has a hash nobody knows:
  // its results would look orphaned. Only an explicit selector or --all may remove anything then.
  const invalid = project.expanded.invalid;
  if (invalid.length > 0 && !values.all && positionals.length === 0) {
    throw inputError(`${project.lemfile}: refusing to clean orphans while ${invalid.length} experiment(s) cannot be evaluated, since their stored results would look orphaned`,
      "fix the experiments named above and run lem clean again (or name what to remove: lem clean SELECTOR, lem clean --all)",
      invalid.map((bad) => `experiment "${bad.name}": ${bad.errors.join("; ")}`));
  }
  const current = new Set(project.expanded.experiments.map((e) => e.hash));
  const select = makeSelector(positionals);
  const selected = new Set(project.nodes.filter(select).map((n) => n.hash));
  const stored = project.store.hashFolders();
  const doomed = stored.filter((hash) => values.all || (positionals.length ? selected.has(hash) : !current.has(hash)));
  // Names as the store recorded them, read without touching it (a dry run changes nothing).
  const entries = new ResultStore(project.store.root, { readOnly: true }).snapshot().entries;
  const label = (hash: string) => {
    const entry = entries.get(hash);
    const names = entry?.names.length ? entry.names.map(printable).join(", ") : "(no name recorded)";
    const cycles = entry ? [...entry.done.keys()].length : 0;
    return `${names}  ${hash}  (${cycles} measured cycle${cycles === 1 ? "" : "s"})`;
  };
  if (values.all && !values["dry-run"] && !values.yes && doomed.length > 0) await confirmAll(doomed.length, project.store.root);
  for (const hash of doomed) {
    if (!values["dry-run"]) project.store.remove(hash);
    out(`${values["dry-run"] ? "would remove" : "removed"} ${label(hash)}`);
  }
  out(`${doomed.length} removed${values["dry-run"] ? " (dry run)" : ""}, ${stored.length - doomed.length} kept`);
  return 0;
}
