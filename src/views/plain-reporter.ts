import { nodeLabel, type BuildEvent } from "../exec/events.js";
import { BuildProgress, headline, shortReason, type ViewOptions } from "./build-progress.js";

/** One line per event: for CI logs, pipes and --json builds (then on stderr). */
export function plainReporter(write: (line: string) => void, options: ViewOptions = {}): (event: BuildEvent) => void {
  const progress = new BuildProgress(options);
  return (event) => {
    switch (event.type) {
      case "planned": {
        const cached = event.nodes.length - event.toRun.length;
        progress.planned(event.toRun);
        write(`lem: ${event.nodes.length} nodes, ${event.toRun.length} to run, ${cached} cached`);
        break;
      }
      case "started":
        progress.started(event.node);
        write(`start   ${nodeLabel(event.node)} ${event.node.hash} (${shortReason(event.node.reason ?? "")})`);
        break;
      case "finished":
        progress.settled(event.node, "done", event.seconds);
        write(`done    ${nodeLabel(event.node)} ${event.seconds.toFixed(1)}s  ${headline(event.result)}  [${progress.line()}]`);
        break;
      case "failed":
        progress.settled(event.node, "failed", event.seconds);
        write(`FAILED  ${nodeLabel(event.node)} ${event.seconds.toFixed(1)}s: ${event.error.type}: ${event.error.message}  [${progress.line()}]`);
        if (event.error.fix) write(`        fix: ${event.error.fix}`);
        if (event.error.exchangeDir) write(`        kept: ${event.error.exchangeDir}`);
        if (event.error.stderrTail) write(event.error.stderrTail.split("\n").map((l) => `        | ${l}`).join("\n"));
        break;
      case "skipped":
        progress.settled(event.node, "skipped");
        write(`skipped ${nodeLabel(event.node)}: ${event.why}  [${progress.line()}]`);
        break;
      case "interrupting":
        progress.interrupting();
        write(event.hard ? "lem: killing running nodes" : "lem: interrupted: starting nothing new, stopping running nodes (Ctrl-C again to kill)");
        break;
      case "image":
        write(event.state === "building" ? `image   building ${event.tag} (once; later builds reuse it)` : `image   ${event.tag} ${event.state}${event.seconds !== undefined ? ` in ${event.seconds.toFixed(0)}s` : ""}`);
        break;
      case "containers":
        write(`docker  ${event.message}`);
        break;
      case "warning":
        write(`warning: ${event.message}`);
        break;
      case "cached":
        // Measured meanwhile by another build: done here too.
        progress.settled(event.node, "done");
        break;
    }
  };
}
