/**
 * Canonical JSON: object keys sorted by UTF-16 code unit, no whitespace. Values JSON cannot
 * represent faithfully (undefined, functions, symbols, bigint, NaN, ±Infinity) are rejected rather
 * than silently dropped, because a dropped field would make two different configs hash alike.
 */
export function canonicalJson(value: unknown): string {
  const text = write(value);
  if (text === undefined) throw new TypeError(describeFirstBad(value, "$"));
  return text;
}

// The hot path (every config of a 100,000-node plan): one string built without per-field path
// strings; undefined marks a value that cannot be written, and only then is its path worked out.
function write(value: unknown): string | undefined {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      // A finite number's JSON text is its ToString, the same as JSON.stringify writes.
      return Number.isFinite(value) ? String(value) : undefined;
    case "object": {
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          const item = write(value[i]);
          if (item === undefined) return undefined;
          out += i === 0 ? item : `,${item}`;
        }
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      if (!isSorted(keys)) keys.sort();
      let out = "{";
      for (let i = 0; i < keys.length; i++) {
        const item = write(record[keys[i]]);
        if (item === undefined) return undefined;
        out += i === 0 ? keyPrefix(keys[i]) + item : `,${keyPrefix(keys[i])}${item}`;
      }
      return `${out}}`;
    }
    default:
      return undefined;
  }
}

function isSorted(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1] > keys[i]) return false;
  return true;
}

// Configs share a few dozen field names: their quoted `"name":` is written once, not per config.
const prefixes = new Map<string, string>();
function keyPrefix(key: string): string {
  let prefix = prefixes.get(key);
  if (prefix === undefined) {
    prefix = `${JSON.stringify(key)}:`;
    if (prefixes.size < 4096) prefixes.set(key, prefix);
  }
  return prefix;
}

/** The message for the first value `write` refused, with its path ("$.pytorch.batch_size"). */
function describeFirstBad(value: unknown, path: string): string {
  if (typeof value === "number") return `${path}: ${value} cannot be hashed (not a finite number)`;
  if (typeof value !== "object" || value === null) return `${path}: a ${typeof value} cannot be hashed`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (write(value[i]) === undefined) return describeFirstBad(value[i], `${path}[${i}]`);
  } else {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record).sort()) if (write(record[key]) === undefined) return describeFirstBad(record[key], `${path}.${key}`);
  }
  return `${path}: cannot be hashed`;
}
