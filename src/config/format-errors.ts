import type { SchemaError } from "./schemas.js";

/** Dotted field path of an ajv error ("pytorch.batch_size"), or "" for the root. */
export function fieldPath(error: SchemaError): string {
  const base = error.instancePath.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (error.keyword === "additionalProperties") base.push(String(error.params.additionalProperty));
  if (error.keyword === "required") base.push(String(error.params.missingProperty));
  return base.join(".");
}

const show = (value: unknown) => (value === undefined ? "nothing" : JSON.stringify(value));

function valueAt(data: unknown, instancePath: string): unknown {
  let cursor = data;
  for (const key of instancePath.split("/").slice(1)) {
    if (typeof cursor !== "object" || cursor === null) return undefined;
    cursor = (cursor as Record<string, unknown>)[key];
  }
  return cursor;
}

function closest(word: string, options: string[]): string | undefined {
  const distance = (a: string, b: string) => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const tmp = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = tmp;
      }
    }
    return row[b.length];
  };
  const best = options.map((o) => [o, distance(word, o)] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= Math.max(2, Math.floor(word.length / 3)) ? best[0] : undefined;
}

/** One readable schema error and the fields it is about (a sweep uses them to blame an axis). */
export interface SchemaProblem {
  line: string;
  fields: string[];
}

/**
 * One readable line per schema error: `field: what was expected, got what`. `schema` is the
 * JSON Schema the data was checked against, used to list the allowed keys of unknown fields.
 */
export function formatSchemaErrors(errors: SchemaError[], data: unknown, schema?: object): string[] {
  return [...new Set(schemaProblems(errors, data, schema).map((p) => p.line))];
}

/** formatSchemaErrors with each line's fields: a backend section error is about `backend` too. */
export function schemaProblems(errors: SchemaError[], data: unknown, schema?: object): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const error of errors) {
    // if/then wrappers repeat what the inner error already says.
    if (error.keyword === "if") continue;
    const field = fieldPath(error) || "(top level)";
    const got = show(valueAt(data, error.instancePath));
    const lines: string[] = [];
    switch (error.keyword) {
      case "additionalProperties": {
        const allowed = allowedKeys(schema, error.schemaPath);
        const guess = allowed && closest(String(error.params.additionalProperty), allowed);
        lines.push(`${field}: unknown field` + (guess ? ` (did you mean "${guess}"?)` : allowed ? ` (expected one of: ${allowed.join(", ")})` : ""));
        break;
      }
      case "required":
        lines.push(`${field}: required but missing`);
        break;
      case "type":
        lines.push(`${field}: expected ${String(error.params.type).replace(",", " or ")}, got ${got}`);
        break;
      case "enum":
        lines.push(`${field}: expected one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}, got ${got}`);
        break;
      case "const":
        lines.push(`${field}: expected ${JSON.stringify(error.params.allowedValue)}, got ${got}`);
        break;
      case "false schema": {
        const backend = typeof data === "object" && data ? (data as Record<string, unknown>).backend : undefined;
        lines.push(`${field}: a "${field}" section does not match backend ${JSON.stringify(backend)} (remove it, or set backend: "${field}")`);
        break;
      }
      default:
        lines.push(`${field}: ${error.message ?? "does not match the schema"}, got ${got}`);
    }
    const fields = error.keyword === "false schema" ? [field, "backend"] : [field];
    for (const line of lines) if (!problems.some((p) => p.line === line)) problems.push({ line, fields });
  }
  return problems;
}

function allowedKeys(schema: object | undefined, schemaPath: string): string[] | undefined {
  if (!schema) return undefined;
  // schemaPath looks like "#/properties/pytorch/additionalProperties"
  let cursor: unknown = schema;
  for (const part of schemaPath.replace(/^#\//, "").split("/").slice(0, -1)) {
    if (typeof cursor !== "object" || cursor === null) return undefined;
    cursor = (cursor as Record<string, unknown>)[part];
  }
  const props = (cursor as { properties?: object } | undefined)?.properties;
  return props ? Object.keys(props) : undefined;
}
