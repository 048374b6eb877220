import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createJiti } from "jiti";
import { inputError } from "../errors.js";

// A lemfile imports "llenergymeasure"; resolve that to this very copy of lem, so a lemfile works
// from any folder, installed or not (tsx compiles such a file as CommonJS and skips ESM hooks;
// jiti's alias does not: see DESIGN.md's facts).
const OWN_ENTRY = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "../index.ts" : "../index.js", import.meta.url));

/** Loads a lemfile's default export. Every way it can fail is an input error (exit 2). */
export async function loadLemfile(path: string): Promise<unknown> {
  const file = resolve(path);
  if (!existsSync(file)) {
    throw inputError(`${path}: no lemfile here`, "create a lemfile.ts (see the README) or pass --lemfile PATH");
  }
  const jiti = createJiti(import.meta.url, {
    alias: { llenergymeasure: OWN_ENTRY },
    moduleCache: false,
    fsCache: false,
    interopDefault: false,
  });
  let module: Record<string, unknown>;
  try {
    module = (await jiti.import(file)) as Record<string, unknown>;
  } catch (error) {
    throw describeLoadError(path, error);
  }
  const value = module?.default;
  if (value === undefined) {
    throw inputError(`${path}: the lemfile has no default export`, "end it with `export default defineLemfile({ ... })`");
  }
  return value;
}

function describeLoadError(path: string, error: unknown) {
  const err = error instanceof Error ? error : new Error(String(error));
  const isSyntax = err.name === "SyntaxError" || /ParseError|Unexpected token|Expected/.test(err.message);
  // The first frame inside the lemfile tells the user where their code threw.
  const where = (err.stack ?? "").split("\n").find((line) => line.includes(resolve(path)))?.trim();
  // jiti puts the position on the message's second line ("ParseError: ... \n /path/lemfile.ts:2:46").
  const [first, ...rest] = err.message.split("\n").map((l) => l.trim()).filter(Boolean);
  const message = rest[0]?.startsWith(resolve(path)) ? `${first} at ${rest[0]}` : first;
  return isSyntax
    ? inputError(`${path}: syntax error: ${message}`, "fix the syntax at the position shown")
    : inputError(`${path}: the lemfile threw while loading: ${message}`, "fix the error in the lemfile", where ? [where] : []);
}
