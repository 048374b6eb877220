// One frame of the terminal build view, as lines: pure, so a test can ask what a 10-row, 80-column
// terminal shows. The header stays on top; when the rows do not fit, finished rows roll up into one
// count line and queued rows beyond the screen into another, so nothing scrolls out of sight.

export type RowState = "running" | "queued" | "done" | "failed" | "skipped" | "cached";

export interface FrameRow { title: string; state: RowState; detail?: string }

export interface TerminalSize { rows?: number; columns?: number }

export const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const ICON: Record<Exclude<RowState, "running">, string> = { queued: "◼", done: "✔", failed: "✖", skipped: "↓", cached: "↓" };

/** A line cut to the width (a character short of it, so the terminal never wraps it), ending in "…". */
export function fit(line: string, columns: number): string {
  const chars = [...line];
  const width = Math.max(10, columns - 1);
  return chars.length <= width ? line : `${chars.slice(0, width - 1).join("")}…`;
}

const rowLine = (row: FrameRow, spin: string) => `  ${row.state === "running" ? spin : ICON[row.state]} ${row.title}`;

/** "✔ 12 done · ✖ 1 failed · ↓ 3 cached" for rows rolled up. */
function rollUp(rows: FrameRow[]): string {
  const count = (state: RowState) => rows.filter((r) => r.state === state).length;
  const parts = (["done", "failed", "skipped", "cached"] as const).filter((s) => count(s) > 0).map((s) => `${ICON[s]} ${count(s)} ${s}`);
  return `  ${parts.join(" · ")} (rolled up; lem status lists every node)`;
}

/**
 * The header line, then the rows: all of them with failures' details where the terminal has room,
 * else the header, one roll-up line for the finished rows that do not fit, the latest finished rows,
 * every running row, the next queued rows and a count of the rest. Never more lines than the terminal
 * has rows, less one.
 */
export function composeFrame(header: string, rows: FrameRow[], size: TerminalSize, spin = SPINNER[0]): string[] {
  const columns = size.columns || 80;
  const budget = Math.max(3, (size.rows || 24) - 1) - 1;
  const full = rows.flatMap((r) => [rowLine(r, spin), ...(r.state === "failed" && r.detail ? [`      ${r.detail.split("\n")[0]}`] : [])]);
  if (full.length <= budget) return [header, ...full].map((l) => fit(l, columns));

  const finished = rows.filter((r) => r.state !== "running" && r.state !== "queued");
  const running = rows.filter((r) => r.state === "running");
  const queued = rows.filter((r) => r.state === "queued");
  let reserve = (finished.length ? 1 : 0) + (queued.length ? 1 : 0);
  if (!queued.length && running.length > budget - reserve) reserve += 1; // the "… more running" line
  const shownRunning = running.slice(0, Math.max(0, budget - reserve));
  // The room left goes half to the latest finished rows (their figures), half to the next queued ones.
  const room = budget - reserve - shownRunning.length;
  let nFinished = Math.min(finished.length, Math.ceil(room / 2));
  let nQueued = Math.min(queued.length, room - nFinished);
  nFinished = Math.min(finished.length, room - nQueued);
  // A count line that is not needed gives its line to the other side.
  if (nQueued === queued.length && queued.length && shownRunning.length === running.length) nFinished = Math.min(finished.length, nFinished + 1);
  else if (nFinished === finished.length && finished.length) nQueued = Math.min(queued.length, nQueued + 1);
  const shownQueued = queued.slice(0, Math.max(0, nQueued));
  const shownFinished = nFinished > 0 ? finished.slice(-nFinished) : [];
  const hiddenFinished = finished.slice(0, finished.length - shownFinished.length);
  const hiddenRunning = running.length - shownRunning.length;
  const hiddenQueued = queued.length - shownQueued.length;
  const lines = [
    header,
    ...(hiddenFinished.length ? [rollUp(hiddenFinished)] : []),
    ...shownFinished.map((r) => rowLine(r, spin)),
    ...shownRunning.map((r) => rowLine(r, spin)),
    ...shownQueued.map((r) => rowLine(r, spin)),
    ...(hiddenRunning || hiddenQueued ? [`  … ${[hiddenRunning ? `${hiddenRunning} more running` : "", hiddenQueued ? `${hiddenQueued} more queued` : ""].filter(Boolean).join(", ")}`] : []),
  ];
  return lines.map((l) => fit(l, columns));
}
