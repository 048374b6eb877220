/**
 * Canonical JSON: object keys sorted by UTF-16 code unit, no whitespace. Values JSON cannot
 * represent faithfully (undefined, functions, symbols, bigint, NaN, ±Infinity) are rejected rather
 * than silently dropped, because a dropped field would make two different configs hash alike.
 */
export function canonicalJson(value: unknown, path = "$"): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`${path}: ${value} cannot be hashed (not a finite number)`);
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map((item, i) => canonicalJson(item, `${path}[${i}]`)).join(",")}]`;
      const keys = Object.keys(value).sort();
      const parts = keys.map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key], `${path}.${key}`)}`);
      return `{${parts.join(",")}}`;
    }
    default:
      throw new TypeError(`${path}: a ${typeof value} cannot be hashed`);
  }
}
