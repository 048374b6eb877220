import type { PlannedNode } from "../graph/plan.js";

/** Writes to stdout without process.exit(), so large JSON is never cut at the pipe buffer. */
export const out = (text: string) => { process.stdout.write(text.endsWith("\n") ? text : text + "\n"); };
export const err = (text: string) => { process.stderr.write(text.endsWith("\n") ? text : text + "\n"); };

/** True when a live terminal view fits: a TTY, and not CI. */
export const isInteractive = () => Boolean(process.stdout.isTTY) && !process.env.CI;

/** The `lem status --json` / `lem build --dry-run --json` node shape (DESIGN.md contract). */
export function statusNode(node: PlannedNode) {
  return {
    name: node.names[0], names: node.names, hash: node.hash, cycle: node.cycle, state: node.state,
    ...(node.reason ? { reason: node.reason } : {}),
    ...(node.error ? { error: node.error } : {}),
  };
}
