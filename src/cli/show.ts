import { parse } from "./args.js";
import { loadProject } from "../project/project.js";
import { out } from "./output.js";
import { inputError } from "../errors.js";
import { summarize, renderSummary } from "../views/summary.js";

export const SHOW_HELP = `lem show NAME|HASH — one experiment's config and every stored result

  --lemfile PATH   the lemfile (default ./lemfile.ts)
  --json           {"hash","names":[...],"config":{...},"results":[...]}
`;

export async function showCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { lemfile: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, "show");
  if (values.help) { out(SHOW_HELP); return 0; }
  if (positionals.length !== 1) throw inputError("lem show: expected one NAME or HASH", "run `lem status` to list them");
  const [key] = positionals;
  const project = await loadProject(values.lemfile);
  const matches = project.expanded.experiments.filter((e) => e.names.includes(key) || (key.length >= 4 && e.hash.startsWith(key)));
  if (matches.length === 0) throw inputError(`lem show: no experiment named or hashed "${key}"`, "run `lem status` to list names and hashes");
  if (matches.length > 1) throw inputError(`lem show: "${key}" matches ${matches.length} experiments`, "give more digits of the hash");
  const { hash, names, config } = matches[0];
  const results = project.store.results(hash);
  if (values.json) {
    out(JSON.stringify({ hash, names, config, results }));
    return 0;
  }
  out(`${names.join(", ")}  ${hash}\n\nconfig:\n${JSON.stringify(config, null, 2)}\n`);
  if (results.length === 0) out("no results stored yet");
  else out(renderSummary([summarize(names[0], hash, results)]));
  return 0;
}
