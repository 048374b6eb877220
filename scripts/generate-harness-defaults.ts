// Writes docker/harness/lem_harness/schema_defaults.py: the experiment schema's defaults for the Python
// harness, so it restates none (src/config/schema-defaults.ts). Run by `npm run build`, `prepare` and
// `npm test`; the file is committed (the harness ships in lem's images and Slurm jobs without Node),
// and test/harness-defaults.test.ts fails when it is not what this script would write now.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readSchemas } from "../src/config/schema-files.js";
import { harnessDefaultsModule } from "../src/config/schema-defaults.js";

const target = fileURLToPath(new URL("../docker/harness/lem_harness/schema_defaults.py", import.meta.url));
const text = harnessDefaultsModule(readSchemas().schemas.experiment);
let current: string | undefined;
try { current = readFileSync(target, "utf8"); } catch { /* not written yet */ }
// Rewritten only when it changes, so a build leaves the file (and its mtime) alone.
if (current !== text) writeFileSync(target, text);
