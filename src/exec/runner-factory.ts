import { resolveRunners, type ResolvedRunner, type RunnerSources } from "../config/runner-resolution.js";
import { byKind, RUNNER_POLICIES } from "./runner-kinds.js";
import type { Runner } from "./runner.js";
import type { CreateOptions, ImageInfo, KindRunners, RunnerSettings } from "./runner-policy.js";
import type { Backend } from "../lemfile/types.js";

export interface Runners {
  runnerFor(backend: Backend): Runner;
  images: ImageInfo[];
  dispose(): Promise<void>;
}

/** The runner of each backend (config/runner-resolution's precedence); auto asks the Docker daemon. */
export function resolveRunnersHere(backends: Backend[], sources: RunnerSources): Promise<Map<Backend, ResolvedRunner>> {
  // Imported only when some backend is auto: zx and the Docker client cost start-up time.
  return resolveRunners(backends, sources, async () => (await import("./docker/docker-cli.js")).daemonAnswers());
}

/** For `lem status`: the image each backend runs in (the kinds that have one), and its digest if it exists yet. */
export async function describeImages(settings: RunnerSettings, resolved: Map<Backend, ResolvedRunner>): Promise<ImageInfo[]> {
  const images: ImageInfo[] = [];
  for (const [kind, group] of byKind(resolved)) {
    const policy = RUNNER_POLICIES[kind];
    if ("images" in policy) images.push(...await policy.images(group, settings));
  }
  return images;
}

/**
 * Builds the runner of each backend, kind by kind (docker: orphans reaped, images built when
 * missing), then prepares each (persistent services start); a failed start lets go of what started.
 */
export async function createRunners(settings: RunnerSettings, resolved: Map<Backend, ResolvedRunner>, options: CreateOptions): Promise<Runners> {
  const made: KindRunners[] = [];
  for (const [kind, group] of byKind(resolved)) made.push(await RUNNER_POLICIES[kind].create(group, settings, options));
  const runners = new Map(made.flatMap((m) => [...m.runners]));
  const dispose = async () => { for (const m of made) await m.dispose?.(); };
  try {
    for (const runner of runners.values()) await runner.prepare?.();
  } catch (error) {
    await dispose(); // a service that did come up must not outlive a failed start
    throw error;
  }
  return {
    runnerFor: (backend) => {
      const runner = runners.get(backend);
      if (!runner) throw new Error(`no runner prepared for backend ${backend}`);
      return runner;
    },
    images: made.flatMap((m) => m.images ?? []),
    dispose,
  };
}
