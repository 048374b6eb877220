import { currentOwner } from "../../store/process-identity.js";

/** Labels on every container lem starts, so a later lem can find what a killed one left. */
export const LABEL = {
  managed: "org.llenergymeasure.managed",
  runId: "org.llenergymeasure.run-id",
  ownerPid: "org.llenergymeasure.owner-pid",
  ownerHost: "org.llenergymeasure.owner-host",
  /** The owner's process start time and boot id: a reused pid does not keep an orphan alive. */
  ownerStart: "org.llenergymeasure.owner-start",
  ownerBoot: "org.llenergymeasure.owner-boot",
  node: "org.llenergymeasure.node",
} as const;

export function ownerLabels(runId: string): Record<string, string> {
  const owner = currentOwner();
  return {
    [LABEL.managed]: "1", [LABEL.runId]: runId, [LABEL.ownerPid]: String(owner.pid), [LABEL.ownerHost]: owner.host,
    [LABEL.ownerStart]: owner.proc_start ?? "", [LABEL.ownerBoot]: owner.boot_id ?? "",
  };
}
