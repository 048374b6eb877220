import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import standaloneCode from "ajv/dist/standalone/index.js";

// ajv-formats and ajv's standalone are CommonJS; under NodeNext their default export arrives as the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const toStandalone = ((standaloneCode as unknown as { default?: unknown }).default ?? standaloneCode) as (ajv: Ajv2020, refs: Record<string, string>) => string;

export type SchemaName = "experiment" | "result" | "userConfig" | "lemfile" | "storeConfig";

/** One home for ajv's options: the generated validators and the fallback compile use the same ones. */
function newAjv(schemas: Record<SchemaName, object>, source: boolean): Ajv2020 {
  // useDefaults: each validator applies the schema's defaults to what it checks.
  const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false, code: { source, esm: true } });
  addFormats(ajv);
  for (const schema of Object.values(schemas)) ajv.addSchema(schema);
  return ajv;
}

const idOf = (schema: object) => (schema as { $id: string }).$id;

/** Compiles every schema now (~100+ ms): used only when the generated validators are stale or missing. */
export function compileValidators(schemas: Record<SchemaName, object>): Record<SchemaName, ValidateFunction> {
  const ajv = newAjv(schemas, false);
  const get = (name: SchemaName) => ajv.getSchema(idOf(schemas[name]))!;
  return { experiment: get("experiment"), result: get("result"), userConfig: get("userConfig"), lemfile: get("lemfile"), storeConfig: get("storeConfig") };
}

/** ES module source of standalone validators, one export per schema (for scripts/generate-validators.ts). */
export function standaloneValidators(schemas: Record<SchemaName, object>): string {
  const ajv = newAjv(schemas, true);
  const refs = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, idOf(schema)]));
  return toStandalone(ajv, refs);
}
