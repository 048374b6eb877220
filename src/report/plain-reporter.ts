import { nodeLabel, type BuildEvent } from "../events.js";
import { BuildProgress, headline, type ViewOptions } from "./build-progress.js";

/** One line per event: for CI logs, pipes and --json builds (then on stderr). */
export function plainReporter(write: (line: string) => void, options: ViewOptions = {}): (event: BuildEvent) => void {
  const progress = new BuildProgress(options.estimate, options.jobs, options.now);
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
        write(`start   ${nodeLabel(event.node)} ${event.node.hash} (${event.node.reason})`);
        break;
      case "finished":
        progress.settled(event.node, event.seconds);
        write(`done    ${nodeLabel(event.node)} ${event.seconds.toFixed(1)}s  ${headline(event.result)}  [${progress.line()}]`);
        break;
      case "failed":
        progress.settled(event.node, event.seconds);
        write(`FAILED  ${nodeLabel(event.node)} ${event.seconds.toFixed(1)}s: ${event.error.type}: ${event.error.message}  [${progress.line()}]`);
        if (event.error.fix) write(`        fix: ${event.error.fix}`);
        if (event.error.exchangeDir) write(`        kept: ${event.error.exchangeDir}`);
        if (event.error.stderrTail) write(event.error.stderrTail.split("\n").map((l) => `        | ${l}`).join("\n"));
        break;
      case "skipped":
        progress.settled(event.node);
        write(`skipped ${nodeLabel(event.node)}: ${event.why}`);
        break;
      case "interrupting":
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
        break;
    }
  };
}
