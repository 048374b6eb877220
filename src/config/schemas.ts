import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { readSchemas } from "./schema-files.js";
import type { SchemaName } from "./schema-compiler.js";

const { schemas: loaded, digest } = readSchemas();

export const schemas: Record<SchemaName, object> = loaded;

// The validators generated at build time (scripts/generate-validators.ts) cost ~2 ms to load;
// compiling with ajv costs ~100+ ms, so that is done only when the schemas changed since the
// generation (or it never ran): a stale generated file can never validate against old rules.
async function loadValidators(): Promise<Record<SchemaName, ValidateFunction>> {
  try {
    const generated = (await import("./validators.generated.js")) as Record<string, unknown>;
    if (generated.SCHEMA_DIGEST === digest) return generated as unknown as Record<SchemaName, ValidateFunction>;
  } catch {
    // not generated yet: compile below
  }
  const { compileValidators } = await import("./schema-compiler.js");
  return compileValidators(schemas);
}

/** One validator per schema; each applies the schema's defaults to what it checks. */
export const validators: Record<SchemaName, ValidateFunction> = await loadValidators();

export type SchemaError = ErrorObject;
