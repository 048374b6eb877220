/**
 * The reader of lem's output went away (`lem status | head -1`). lem ends quietly with 141, what a
 * shell reports for any tool that a closed pipe ended (128 + SIGPIPE): `set -o pipefail` scripts
 * treat lem as they treat cat or git. Node ignores SIGPIPE, so without this a write throws EPIPE.
 */
export const CLOSED_PIPE_EXIT = 141;

let closed = false;
const stops = new Set<() => void>();

/** Whether stdout or stderr lost its reader during this run. */
export const pipeClosed = () => closed;

/**
 * While registered, a closed pipe calls `stop` instead of ending lem at once: a build stops as on
 * Ctrl-C, keeping what it measured and leaving no harness behind. Returns the unregister function.
 */
export function onPipeClosed(stop: () => void): () => void {
  stops.add(stop);
  return () => { stops.delete(stop); };
}

/** Installs the EPIPE handling on stdout and stderr (once per process). */
export function watchClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount("error") > 0) continue;
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (closed) return; // later writes to the closed stream fail too: nothing can reach a reader
      if (error.code !== "EPIPE") throw error;
      closed = true;
      if (stops.size === 0) process.exit(CLOSED_PIPE_EXIT);
      for (const stop of stops) stop();
    });
  }
}
