import { statSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "./args.js";
import { loadProject } from "../project/project.js";
import { out, err, printable } from "./output.js";
import { inputError } from "../errors.js";
import { importStores } from "../store/import.js";

export const IMPORT_HELP = `lem import DIR... — merge results folders (CI shard artifacts) into this project's store

  --lemfile PATH   the lemfile (default ./lemfile.ts): its store receives the results
  --dry-run        check and classify every file, write nothing
  --json           {"files":[{"source","state","target","hash","cycle","hardware","reason"}],"summary":{"imported","duplicate","conflict","refused"}}

Exit codes: 0 all merged (or duplicates), 1 something refused or conflicting, 2 bad arguments.
`;

export async function importCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { lemfile: { type: "string" }, "dry-run": { type: "boolean" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, "import");
  if (values.help) { out(IMPORT_HELP); return 0; }
  if (positionals.length === 0) throw inputError("lem import: no results folder given", "e.g. lem import shards/*/");
  for (const dir of positionals) {
    let ok = false;
    try { ok = statSync(dir).isDirectory(); } catch { /* missing */ }
    if (!ok) throw inputError(`lem import: ${dir} is not a folder`, "pass the results folders the shard jobs uploaded");
  }
  const project = await loadProject(values.lemfile);
  if (!values["dry-run"]) project.store.checkWritable();
  const report = await importStores(project.store, positionals.map((d) => resolve(d)), {
    dryRun: values["dry-run"],
    onWait: (target, holder) => err(`lem import: waiting for lem build (pid ${holder.pid}) measuring ${target}`),
  });
  for (const line of report.ignored) err(`warning: ignored ${printable(line)}`);
  if (values.json) out(JSON.stringify({ files: report.files, summary: report.summary }));
  else {
    for (const f of report.files) if (f.state === "refused" || f.state === "conflict") out(`${f.state.padEnd(8)} ${printable(f.source)}: ${printable(f.reason ?? "")}`);
    const s = report.summary;
    out(`${values["dry-run"] ? "(dry run) " : ""}${s.imported} imported, ${s.duplicate} duplicate, ${s.conflict} conflict, ${s.refused} refused`);
  }
  return report.summary.refused > 0 || report.summary.conflict > 0 ? 1 : 0;
}
