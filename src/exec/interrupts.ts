import type { RunContext } from "./runner.js";

/** What happened to a running node, set by watchInterrupts. */
export interface InterruptWatch {
  readonly interrupted: boolean;
  readonly timedOut: boolean;
  /** Stops listening; call once the process has ended. */
  dispose(): void;
}

/**
 * The one way every runner reacts to a node being stopped: the first Ctrl-C or the node's
 * timeout asks the harness to stop (`terminate`, SIGTERM); the second Ctrl-C kills it.
 */
export function watchInterrupts(ctx: RunContext, act: { terminate(): void; kill(): void }): InterruptWatch {
  const state = { interrupted: false, timedOut: false };
  const onStop = () => { state.interrupted = true; act.terminate(); };
  const onKill = () => { state.interrupted = true; act.kill(); };
  ctx.stop.addEventListener("abort", onStop, { once: true });
  ctx.kill.addEventListener("abort", onKill, { once: true });
  const timer = ctx.timeoutSeconds
    ? setTimeout(() => { state.timedOut = true; act.terminate(); }, ctx.timeoutSeconds * 1000)
    : undefined;
  if (ctx.stop.aborted) onStop();
  return {
    get interrupted() { return state.interrupted && !state.timedOut; },
    get timedOut() { return state.timedOut; },
    dispose() {
      clearTimeout(timer);
      ctx.stop.removeEventListener("abort", onStop);
      ctx.kill.removeEventListener("abort", onKill);
    },
  };
}
