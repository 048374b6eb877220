import { readFileSync } from "node:fs";
import { createRequire, SourceMap } from "node:module";
import { dirname } from "node:path";
import vm from "node:vm";
import type { NonJsonValue } from "./json-values.js";
import type { WorkerReply } from "./load-worker.js";

/** The time limit passed: the caller reports it with the file and the fix. */
export class ScriptTimeout extends Error {}

/** The lemfile called process.exit(code): lem must not end there. */
export class ExitCalled extends Error {
  constructor(readonly code: number | string | null | undefined) {
    super(`process.exit(${code ?? ""})`);
  }
}

/** Ctrl-C arrived while the lemfile ran: lem ends with 130, as for any interrupt. */
export class LoadInterrupted extends Error {}

const HANDOFF = Symbol.for("llenergymeasure.lemfile");

/**
 * Runs a `script` bundle on this thread under a vm time limit, which cuts an endless loop as a
 * worker's terminate() would, without a worker's start-up. It runs synchronously (no top-level
 * await in a script), so what it prints while running is sent to stderr and nothing after.
 */
export function runScript(bundlePath: string, lemfile: string, timeoutMs: number): WorkerReply {
  const bundleCode = readFileSync(bundlePath, "utf8");
  const module = { exports: {} as Record<string, unknown> };
  const handoff = { module, require: createRequire(lemfile), filename: lemfile, dirname: dirname(lemfile) };
  // The bundle's own lines keep their numbers (the wrapper is on the first line), for its source map.
  const source = `((h) => (function (exports, require, module, __filename, __dirname) {${bundleCode}\n}).call(h.module.exports, h.module.exports, h.require, h.module, h.filename, h.dirname))(globalThis[Symbol.for("llenergymeasure.lemfile")]);`;
  const globals = globalThis as Record<symbol, unknown>;
  globals[HANDOFF] = handoff;
  const stdoutWrite = process.stdout.write;
  const exit = process.exit;
  process.exit = ((code?: number | string | null) => { throw new ExitCalled(code); }) as typeof process.exit;
  process.stdout.write = ((chunk: string | Uint8Array, encoding?: BufferEncoding | ((error?: Error | null) => void), callback?: (error?: Error | null) => void) =>
    typeof encoding === "function" ? process.stderr.write(chunk, encoding) : process.stderr.write(chunk, encoding, callback)) as typeof process.stdout.write;
  try {
    new vm.Script(source, { filename: bundlePath }).runInThisContext({ timeout: timeoutMs, displayErrors: false, breakOnSigint: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException)?.code;
    if (code === "ERR_SCRIPT_EXECUTION_TIMEOUT") throw new ScriptTimeout();
    if (error instanceof ExitCalled) throw error;
    // Ctrl-C stopped the lemfile (vm took the signal from lem's own handlers): the caller exits 130.
    if (code === "ERR_SCRIPT_EXECUTION_INTERRUPTED") throw new LoadInterrupted();
    return threw(error, bundlePath, bundleCode);
  } finally {
    process.stdout.write = stdoutWrite;
    process.exit = exit;
    delete globals[HANDOFF];
  }
  const exported = module.exports as { lemfile: Record<string, unknown>; nonJsonValues: (value: unknown) => NonJsonValue[] };
  const value = exported.lemfile.default;
  if (value === undefined) return { kind: "no-default" };
  if (typeof value === "function") return { kind: "function-default" };
  const values = exported.nonJsonValues(value);
  return values.length ? { kind: "non-json", values } : { kind: "ok", value };
}

function threw(error: unknown, bundlePath: string, bundleCode: string): WorkerReply {
  const e = error instanceof Error ? error : new Error(String(error));
  const extra = e as Error & { fix?: unknown; notes?: unknown };
  return {
    kind: "threw", name: e.name, message: e.message, stack: mapStack(e.stack ?? "", bundlePath, bundleCode),
    fix: typeof extra.fix === "string" ? extra.fix : undefined,
    notes: Array.isArray(extra.notes) ? extra.notes.map(String) : undefined,
  };
}

/** Rewrites `bundle:line:column` frames to the lemfile's own positions through the inline source map. */
function mapStack(stack: string, bundlePath: string, bundleCode: string): string {
  const inline = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/.exec(bundleCode);
  if (!inline || !stack.includes(bundlePath)) return stack;
  let map: SourceMap;
  try {
    map = new SourceMap(JSON.parse(Buffer.from(inline[1], "base64").toString("utf8")));
  } catch {
    return stack;
  }
  const escaped = bundlePath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return stack.replace(new RegExp(`${escaped}:(\\d+):(\\d+)`, "g"), (whole, line: string, column: string) => {
    const entry = map.findEntry(Number(line) - 1, Number(column) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (!entry?.originalSource) return whole;
    const source = entry.originalSource.replace(/^file:\/\//, "");
    return `${source.startsWith("/") ? source : `/${source}`}:${entry.originalLine! + 1}:${entry.originalColumn! + 1}`;
  });
}
