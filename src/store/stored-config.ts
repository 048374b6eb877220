import { validators } from "../config/schemas.js";
import { formatSchemaErrors } from "../config/format-errors.js";
import type { ExperimentConfig } from "../lemfile/types.js";

/** results/<hash>/config.json (schemas/store-config.schema.json). */
export interface StoredConfig {
  hash_version?: number;
  hash?: string;
  names?: string[];
  groups?: string[];
  config: ExperimentConfig;
  updated_at?: string;
}

/**
 * A parsed config.json checked field by field against its schema, or why not (naming the fields,
 * never quoting more than the schema message does). A store folder may come from anyone: an
 * unchecked `names` of "abc" would be stored as ["a","b","c"], and an object would crash a report.
 */
export function checkStoredConfig(data: unknown): StoredConfig | string {
  if (validators.storeConfig(data)) return data as StoredConfig;
  return `not a valid lem config file (${formatSchemaErrors(validators.storeConfig.errors ?? [], data).slice(0, 3).join("; ")})`;
}
