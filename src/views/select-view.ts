import { ListrReporter } from "./listr-reporter.js";
import { plainReporter } from "./plain-reporter.js";
import type { BuildEvent } from "../exec/events.js";
import type { BuildForecast, BuildView } from "../exec/build-session.js";

export interface ViewTarget {
  /** A live terminal view fits: a TTY, not CI, and stdout is not --json's. */
  live: boolean;
  /** Where plain lines go (stdout; stderr under --json). */
  write: (line: string) => void;
  /** stderr: what happens outside the node rows while the live view draws them. */
  note: (line: string) => void;
}

/** The build's view: listr rows on a live terminal, else one plain line per event. */
export function selectView(forecast: BuildForecast, target: ViewTarget): BuildView {
  if (!target.live) return { emit: plainReporter(target.write, forecast), done: async () => {}, abandon: () => {} };
  const listr = new ListrReporter(forecast);
  // Image builds, reaping, warnings and interrupts still get a line of their own.
  const lines = plainReporter(target.note);
  return {
    emit: (event: BuildEvent) => {
      listr.handle(event);
      if (event.type === "warning" || event.type === "interrupting" || event.type === "image" || event.type === "containers") lines(event);
    },
    done: () => listr.done(),
    abandon: () => listr.abandon(),
  };
}
