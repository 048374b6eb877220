import type { NonJsonValue } from "./json-values.js";

/** What the worker that evaluates a lemfile sends back: one message, then it is terminated. */
export type WorkerReply =
  | { kind: "ok"; value: unknown }
  | { kind: "no-default" }
  | { kind: "function-default" }
  | { kind: "non-json"; values: NonJsonValue[] }
  | { kind: "threw"; name: string; message: string; stack?: string; fix?: string; notes?: string[] };

/**
 * The worker's code, plain JavaScript so it needs no TypeScript loader (the bundle it imports
 * carries lem's own code). It runs the lemfile off the main thread, so an endless loop can be cut
 * by terminate(); everything the lemfile prints goes to stderr with synchronous writes (fd 2), so
 * `--json` stdout stays clean and nothing is lost when the worker is terminated.
 */
export const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { writeSync } = require("node:fs");
const toStderr = function (chunk, encoding, callback) {
  writeSync(2, typeof chunk === "string" ? chunk : Buffer.from(chunk));
  const done = typeof encoding === "function" ? encoding : callback;
  if (done) done();
  return true;
};
process.stdout.write = toStderr;
process.stderr.write = toStderr;
process.setSourceMapsEnabled(true);
const reply = (message) => {
  try { parentPort.postMessage(message); }
  catch (error) { parentPort.postMessage({ kind: "threw", name: "DataCloneError", message: String(error && error.message || error) }); }
};
(async () => {
  let module;
  try {
    module = await import(workerData.url);
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    return reply({ kind: "threw", name: e.name, message: e.message, stack: e.stack,
      fix: typeof e.fix === "string" ? e.fix : undefined, notes: Array.isArray(e.notes) ? e.notes.map(String) : undefined });
  }
  const value = module.lemfile.default;
  if (value === undefined) return reply({ kind: "no-default" });
  if (typeof value === "function") return reply({ kind: "function-default" });
  const values = module.nonJsonValues(value);
  if (values.length) return reply({ kind: "non-json", values });
  reply({ kind: "ok", value });
})();
`;
