import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

// ajv-formats is CommonJS; under NodeNext its default export arrives as the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

import { SCHEMA_DIR } from "../paths.js";

const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false });
addFormats(ajv);

const load = (file: string): object => JSON.parse(readFileSync(join(SCHEMA_DIR, file), "utf8"));

export const schemas = {
  experiment: load("experiment.schema.json"),
  result: load("result.schema.json"),
  userConfig: load("user-config.schema.json"),
  lemfile: load("lemfile.schema.json"),
};

// Compiled once per process; each validator applies the schema's defaults to what it checks.
export const validators: Record<keyof typeof schemas, ValidateFunction> = {
  experiment: ajv.compile(schemas.experiment),
  result: ajv.compile(schemas.result),
  userConfig: ajv.compile(schemas.userConfig),
  lemfile: ajv.compile(schemas.lemfile),
};

export type SchemaError = ErrorObject;
