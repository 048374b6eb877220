import type { PlannedNode } from "../graph/plan.js";

/**
 * One field (a name, a path, a reason) from a lemfile, a store or an artifact, made one safe line
 * for a terminal or a CI log: control characters, ANSI escapes and newlines included, become "�",
 * so no field can recolour the terminal or start a line such as `::error::` in a GitHub log.
 */
export const printable = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, "\ufffd");

/** lem's own text keeps its newlines and tabs; any other control character that reached it is shown as "�". */
const terminal = (s: string) => s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "\ufffd");

/** Writes to stdout without process.exit(), so large JSON is never cut at the pipe buffer. */
export const out = (text: string) => { const t = terminal(text); process.stdout.write(t.endsWith("\n") ? t : t + "\n"); };
export const err = (text: string) => { const t = terminal(text); process.stderr.write(t.endsWith("\n") ? t : t + "\n"); };

/** True when a live terminal view fits: a TTY, and not CI. */
export const isInteractive = () => Boolean(process.stdout.isTTY) && !process.env.CI;

/** The `lem status --json` / `lem build --dry-run --json` node shape (a stable contract: README "CLI", JSON outputs). */
export function statusNode(node: PlannedNode) {
  return {
    name: node.names[0], names: node.names, hash: node.hash, cycle: node.cycle, state: node.state,
    ...(node.reason ? { reason: node.reason } : {}),
    ...(node.error ? { error: node.error } : {}),
  };
}
