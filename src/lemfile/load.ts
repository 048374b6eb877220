import { existsSync, statSync } from "node:fs";
import { relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { inputError, LemError } from "../errors.js";
import { bundleLemfile, BundleError, MISSING_EXPORT, NoExports } from "./bundle.js";
import { WORKER_SOURCE, type WorkerReply } from "./load-worker.js";
import { ExitCalled, LoadInterrupted, runScript, ScriptTimeout } from "./run-script.js";

// A lemfile imports "llenergymeasure": the bundle resolves that to this very copy of lem, so a
// lemfile works from any folder, installed or not, with or without "type": "module".
const EXT = import.meta.url.endsWith(".ts") ? "ts" : "js";
const OWN_ENTRY = fileURLToPath(new URL(`../index.${EXT}`, import.meta.url));
const JSON_CHECK = fileURLToPath(new URL(`./json-values.${EXT}`, import.meta.url));

export const LOAD_TIMEOUT_ENV = "LEM_LOAD_TIMEOUT_SECONDS";
const DEFAULT_LOAD_TIMEOUT_SECONDS = 30;

/**
 * Loads a lemfile's default export as plain JSON data. The lemfile runs under a time limit
 * (LEM_LOAD_TIMEOUT_SECONDS): as a vm script on this thread, or in a worker when it uses a
 * top-level await or imports a package; either way what it prints goes to stderr.
 * Every way it can fail is an input error (exit 2) that names the file.
 */
export async function loadLemfile(path: string): Promise<unknown> {
  const early = prefetched.get(resolve(path));
  for (const loading of prefetched.values()) if (loading !== early) loading.cancel();
  prefetched.clear();
  const loading = early ?? startLoading(path);
  loading.hold();
  return loading.value;
}

/**
 * Starts loading a lemfile before the command that needs it has loaded its own modules, so the
 * worker's start-up overlaps them (lem status: ~50 ms). Until loadLemfile takes it, the load does
 * not keep lem alive and its failure is kept for loadLemfile to report.
 */
export function prefetchLemfile(path: string): void {
  const file = resolve(path);
  if (prefetched.has(file)) return;
  const loading = startLoading(path);
  loading.value.catch(() => {}); // reported by loadLemfile, if a command asks for it
  prefetched.set(file, loading);
}

interface Loading {
  value: Promise<unknown>;
  /** From now on the load keeps lem alive (a command waits for it). */
  hold(): void;
  cancel(): void;
}

const prefetched = new Map<string, Loading>();

function startLoading(path: string): Loading {
  let held = false;
  let running: Evaluation | undefined;
  let cancelled = false;
  let release!: () => void;
  const untilHeld = new Promise<void>((resolve) => { release = resolve; });
  const value = (async () => {
    const file = resolve(path);
    if (!existsSync(file)) {
      throw inputError(`${path}: no lemfile here`, "create a lemfile.ts (see the README) or pass --lemfile PATH");
    }
    if (!statSync(file).isFile()) throw inputError(`${path}: not a file`, "pass --lemfile PATH to a lemfile.ts");
    const timeoutSeconds = loadTimeoutSeconds();
    let bundle;
    try {
      bundle = await bundleLemfile(file, OWN_ENTRY, JSON_CHECK);
    } catch (error) {
      if (error instanceof BundleError) throw await describeBundleError(path, error);
      if (error instanceof NoExports) throw noDefaultError(path);
      throw error;
    }
    try {
      if (bundle.mode === "script") {
        // A script runs on lem's own thread: only once a command asks for it, never ahead.
        await untilHeld;
        if (cancelled) throw new Error("cancelled");
        try {
          return fromReply(path, runScript(bundle.path, file, timeoutSeconds * 1000));
        } catch (error) {
          if (error instanceof ScriptTimeout) throw timeoutError(path, timeoutSeconds);
          if (error instanceof ExitCalled) throw exitError(path, error.code);
          if (error instanceof LoadInterrupted) throw new LemError(`${path}: interrupted while the lemfile was loading`, undefined, 130);
          throw error;
        }
      }
      if (cancelled) throw new Error("cancelled");
      running = evaluate(bundle.url, path, timeoutSeconds, held);
      return fromReply(path, await running.reply);
    } finally {
      bundle.cleanup();
    }
  })();
  return {
    value,
    hold() { held = true; running?.hold(); release(); },
    cancel() { cancelled = true; running?.cancel(); release(); },
  };
}

function loadTimeoutSeconds(): number {
  const raw = process.env[LOAD_TIMEOUT_ENV];
  if (raw === undefined || raw === "") return DEFAULT_LOAD_TIMEOUT_SECONDS;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw inputError(`${LOAD_TIMEOUT_ENV}: expected a number of seconds > 0, got "${raw}"`, `unset it (default ${DEFAULT_LOAD_TIMEOUT_SECONDS}) or set e.g. ${LOAD_TIMEOUT_ENV}=60`);
  }
  return seconds;
}

const timeoutError = (path: string, seconds: number) => inputError(
  `${path}: the lemfile did not finish loading within ${seconds} s`,
  `look for an endless loop or an await that never settles at the lemfile's top level (or raise ${LOAD_TIMEOUT_ENV})`,
);

const exitError = (path: string, code: unknown) =>
  inputError(`${path}: the lemfile called process.exit(${code ?? ""}) while loading`, "remove the process.exit call: a lemfile only exports its experiments");

interface Evaluation {
  reply: Promise<WorkerReply>;
  hold(): void;
  cancel(): void;
}

/** Runs a module bundle in a worker (off this thread, so terminate() can end it) and waits for its one reply, its exit, or the time limit. */
function evaluate(url: string, path: string, timeoutSeconds: number, held: boolean): Evaluation {
  // No inherited --import hooks (tsx under tests): the bundle is plain JavaScript.
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { url }, execArgv: [] });
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const reply = new Promise<WorkerReply>((settle, fail) => {
    const finish = (action: () => void) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      // The lemfile may leave timers behind: they must not keep lem alive or print later.
      void worker.terminate();
      action();
    };
    timer = setTimeout(() => finish(() => fail(timeoutError(path, timeoutSeconds))), timeoutSeconds * 1000);
    worker.on("message", (reply: WorkerReply) => finish(() => settle(reply)));
    worker.on("error", (error) => finish(() => settle({ kind: "threw", name: error.name, message: error.message, stack: error.stack })));
    worker.on("exit", (code) => finish(() => fail(code === 0
      ? inputError(`${path}: the lemfile never finished loading: a top-level await never settled`, "make every top-level await settle (resolve or reject)")
      : exitError(path, code))));
  });
  const hold = () => { worker.ref(); timer?.ref(); };
  if (!held) { worker.unref(); timer?.unref(); }
  return { reply, hold, cancel: () => { if (!finished) { finished = true; clearTimeout(timer); void worker.terminate(); } } };
}

function fromReply(path: string, reply: WorkerReply): unknown {
  switch (reply.kind) {
    case "ok":
      return reply.value;
    case "no-default":
      throw noDefaultError(path);
    case "function-default":
      throw inputError(`${path}: the default export is a function`, "export the object: export default defineLemfile({ ... })");
    case "non-json":
      throw inputError(`${path}: the lemfile exports values that are not JSON data`,
        "use only plain objects, arrays, strings, finite numbers, booleans and null",
        reply.values.map((v) => `${v.path || "(the default export)"}: ${v.what}`));
    case "threw":
      // lem's own API (sweep, defineLemfile) throws LemErrors that already say what to fix.
      if (reply.name === "LemError") return rethrowLemError(path, reply);
      throw describeThrow(path, reply);
  }
}

function rethrowLemError(path: string, reply: Extract<WorkerReply, { kind: "threw" }>): never {
  throw new LemError(`${path}: ${reply.message}`, reply.fix, 2, reply.notes ?? []);
}

function describeThrow(path: string, reply: Extract<WorkerReply, { kind: "threw" }>): LemError {
  const file = resolve(path);
  // The first frame inside the lemfile tells the user where their code threw (source-mapped).
  const where = (reply.stack ?? "").split("\n").find((line) => line.includes(file))?.trim();
  const first = reply.message.split("\n").map((l) => l.trim()).find(Boolean) ?? reply.name;
  if (reply.name === "SyntaxError") {
    return inputError(`${path}: syntax error: ${first}`, "fix the syntax at the position shown", where ? [where] : []);
  }
  return inputError(`${path}: the lemfile threw while loading: ${first}`, "fix the error in the lemfile", where ? [where] : []);
}

const noDefaultError = (path: string) =>
  inputError(`${path}: the lemfile has no default export`, "end it with `export default defineLemfile({ ... })`");

/** esbuild's own words, with the file, line and column it points at, and the line itself. */
async function describeBundleError(path: string, error: BundleError): Promise<LemError> {
  const [first] = error.messages;
  const location = first?.location;
  const at = location ? `${relative(process.cwd(), `/${location.file}`) || location.file}:${location.line}:${location.column + 1}` : path;
  const notes = location ? [location.lineText, `${" ".repeat(location.column)}^`] : [];
  const missing = MISSING_EXPORT.exec(first?.text ?? "");
  if (missing) {
    const [name, module] = missing[2] !== undefined ? [missing[2], missing[1]] : [missing[3], missing[4]];
    if (`/${module}` === OWN_ENTRY) {
      const api = Object.keys(await import(pathToFileURL(OWN_ENTRY).href)).sort().join(", ");
      return inputError(`${path}: "llenergymeasure" has no export "${name}" (at ${at})`, `use one of lem's exports: ${api}`, notes);
    }
    return inputError(`${path}: ${relative(process.cwd(), `/${module}`) || module} has no export "${name}" (at ${at})`, "check the name, or export it from that file", notes);
  }
  if (/^Could not resolve/.test(first?.text ?? "")) {
    return inputError(`${path}: ${first.text} (at ${at})`, "check the import's path or install the package beside the lemfile", notes);
  }
  return inputError(`${path}: syntax error: ${first?.text ?? error.message} at ${at}`, "fix the syntax at the position shown", notes);
}
