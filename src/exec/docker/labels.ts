import { hostname } from "node:os";

/** Labels on every container lem starts, so a later lem can find what a killed one left. */
export const LABEL = {
  managed: "org.llenergymeasure.managed",
  runId: "org.llenergymeasure.run-id",
  ownerPid: "org.llenergymeasure.owner-pid",
  ownerHost: "org.llenergymeasure.owner-host",
  node: "org.llenergymeasure.node",
} as const;

export function ownerLabels(runId: string): Record<string, string> {
  return { [LABEL.managed]: "1", [LABEL.runId]: runId, [LABEL.ownerPid]: String(process.pid), [LABEL.ownerHost]: hostname() };
}
