/** A value a lemfile exported that JSON (and so the hash, YAML and the harness) cannot carry. */
export interface NonJsonValue {
  /** Dotted path from the export's root: "experiments[2].pytorch.batch_size" ("" for the root). */
  path: string;
  /** What was found: "a function", "NaN", "Infinity", "a bigint (3n)", "undefined in an array", ... */
  what: string;
}

const describe = (value: unknown): string | undefined => {
  switch (typeof value) {
    case "function": return "a function";
    case "symbol": return "a symbol";
    case "bigint": return `a bigint (${value}n)`;
    case "number": return Number.isNaN(value) ? "NaN" : Number.isFinite(value) ? undefined : String(value);
    default: return undefined;
  }
};

const join = (path: string, key: string | number) =>
  typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${key}` : key;

/**
 * Every value in `root` that is not plain JSON data, with its path. `undefined` object fields
 * are allowed (they mean "not set"); an `undefined` array item, a class instance (Date, Map, ...)
 * and a cycle are not. Runs before anything is cloned or hashed, so the user sees the field.
 */
export function nonJsonValues(root: unknown, limit = 20): NonJsonValue[] {
  const found: NonJsonValue[] = [];
  const onPath = new Set<object>();
  const visit = (value: unknown, path: string) => {
    if (found.length >= limit) return;
    const bad = describe(value);
    if (bad) { found.push({ path, what: bad }); return; }
    if (typeof value !== "object" || value === null) return;
    if (onPath.has(value)) { found.push({ path, what: "a reference to itself (a cycle)" }); return; }
    const proto = Object.getPrototypeOf(value);
    if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
      found.push({ path, what: `a ${proto?.constructor?.name ?? "class"} object (only plain objects, arrays, strings, numbers, booleans and null)` });
      return;
    }
    onPath.add(value);
    if (Array.isArray(value)) {
      value.forEach((item, i) => (item === undefined ? found.push({ path: join(path, i), what: "undefined" }) : visit(item, join(path, i))));
    } else {
      for (const [key, item] of Object.entries(value)) visit(item, join(path, key));
    }
    onPath.delete(value);
  };
  visit(root, "");
  return found;
}
