import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SCHEMA_DIR } from "../paths.js";
import type { SchemaName } from "./schema-compiler.js";

const FILES: Record<SchemaName, string> = {
  experiment: "experiment.schema.json",
  result: "result.schema.json",
  userConfig: "user-config.schema.json",
  lemfile: "lemfile.schema.json",
  storeConfig: "store-config.schema.json",
};

/** The schemas as parsed JSON, and a digest of their text that tells whether generated validators are current. */
export function readSchemas(): { schemas: Record<SchemaName, object>; digest: string } {
  const hash = createHash("sha256");
  const schemas = {} as Record<SchemaName, object>;
  for (const [name, file] of Object.entries(FILES) as [SchemaName, string][]) {
    const text = readFileSync(join(SCHEMA_DIR, file), "utf8");
    hash.update(`${file}\0${text}\0`);
    schemas[name] = JSON.parse(text);
  }
  return { schemas, digest: hash.digest("hex") };
}
