import { LocalRunner } from "./local-runner.js";
import { reapOrphanedRegistries, ServerRegistries } from "./server-registry.js";
import { resolvePython } from "../config/python.js";
import type { Runner } from "./runner.js";
import type { CreateOptions, KindRunners, RunnerSettings } from "./runner-policy.js";
import type { ResolvedRunner } from "../config/runner-resolution.js";
import type { Backend } from "../lemfile/types.js";

/** One LocalRunner per backend, all on the Python lem resolves here (LEM_PYTHON, .lem-config.yaml, lem's venv…). */
export async function createLocalRunners(group: Map<Backend, ResolvedRunner>, host: RunnerSettings, options: CreateOptions): Promise<KindRunners> {
  const reaped = await reapOrphanedRegistries();
  if (reaped.length) options.emit({ type: "warning", message: `stopped the shared servers of ${reaped.length} lem build(s) that were killed: ${reaped.join(", ")}` });
  const runners = new Map<Backend, Runner>();
  // One registry per lane for every backend: two servers never share a lane (one would idle in the other's energy).
  const servers = new ServerRegistries();
  for (const [backend, choice] of group) runners.set(backend, new LocalRunner(resolvePython(host.user).python, choice.source, host.root, servers));
  return { runners, dispose: () => servers.teardown() };
}
