import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import { randomBytes } from "node:crypto";
import { PACKAGE_ROOT, DOCKER_DIR } from "../paths.js";
import { resolveRunner, type ResolvedRunner } from "../config/runner-resolution.js";
import { LocalRunner } from "../exec/local-runner.js";
import { resolvePython } from "../config/python.js";
import { inputError, LemError } from "../errors.js";
import type { Runner } from "../exec/runner.js";
import type { Backend } from "../lemfile/types.js";
import type { BuildEvent } from "../events.js";
import type { Project } from "./project.js";

export type Strategy = "ephemeral" | "persistent";

export interface ImageInfo { backend: Backend; tag: string; digest: string | null; built: boolean }

export interface Runners {
  runnerFor(backend: Backend): Runner;
  images: ImageInfo[];
  dispose(): Promise<void>;
}



/**
 * Resolves a runner per backend (CLI > LEM_RUNNER_<BACKEND> > lemfile > .lem-config.yaml >
 * auto: docker when a daemon answers, else local) and prepares what the docker ones need:
 * orphans of killed builds reaped, images built when missing, persistent services started.
 */
/** The runner of each backend; `auto` is docker when a daemon answers, else local. */
export async function resolveRunners(project: Project, backends: Backend[], cli?: string): Promise<Map<Backend, ResolvedRunner>> {
  if (cli !== undefined && !/^(local|docker|slurm)$/.test(cli)) throw inputError(`--runner: expected local or docker, got "${cli}"`, "use --runner local, docker or slurm");
  let daemon: boolean | undefined;
  const resolved = new Map<Backend, ResolvedRunner>();
  for (const backend of backends) {
    let auto = false;
    const choice = resolveRunner(backend, { cli, env: process.env, lemfile: project.expanded.runners, user: project.user, auto: () => { auto = true; return "local"; } });
    if (auto) {
      daemon ??= await (await import("../exec/docker/docker-cli.js")).daemonAnswers();
      choice.spec = daemon ? "docker" : "local";
    }
    resolved.set(backend, choice);
  }
  return resolved;
}

async function imageNodeFor(project: Project, backend: Backend, spec: string) {
  const { imageForSpec } = await import("../exec/docker/images.js");
  return imageForSpec(backend, spec, { gpu: Boolean(project.host.gpu), root: PACKAGE_ROOT });
}

/** For `lem status`: the image each docker backend runs in, and its digest if it exists yet. */
export async function describeImages(project: Project, backends: Backend[]): Promise<ImageInfo[]> {
  const out: ImageInfo[] = [];
  for (const [backend, choice] of await resolveRunners(project, backends)) {
    if (choice.spec === "local" || choice.spec === "slurm") continue;
    // Imported only for a docker runner: zx and the image code cost ~100 ms of start-up.
    const { imageDigest } = await import("../exec/docker/images.js");
    const node = await imageNodeFor(project, backend, choice.spec);
    const digest = (await imageDigest(node.tag)) ?? null;
    out.push({ backend, tag: node.tag, digest, built: digest !== null });
  }
  return out;
}

export async function createRunners(
  project: Project,
  resolved: Map<Backend, ResolvedRunner>,
  options: { strategy: Strategy; signal: AbortSignal; emit: (e: BuildEvent) => void },
): Promise<Runners> {
  const runners = new Map<Backend, Runner>();
  const images: ImageInfo[] = [];
  const disposers: (() => Promise<void>)[] = [];
  const dockerBackends = [...resolved].filter(([, r]) => r.spec !== "local" && r.spec !== "slurm");
  if (dockerBackends.length > 0) {
    const { reapOrphans } = await import("../exec/docker/reaper.js");
    const reaped = await reapOrphans();
    if (reaped.length) options.emit({ type: "containers", message: `removed ${reaped.length} container(s) left by a killed lem: ${reaped.join(", ")}` });
  }
  const runId = randomBytes(4).toString("hex");
  const settings = project.user.docker;
  const common = {
    runId, campaignName: basename(project.root), secrets: settings.secrets,
  };
  const hfCache = [process.env.HF_HOME, join(homedir(), ".cache", "huggingface")].find((p) => p && existsSync(p));

  const gpusFor = (backend: Backend) => (settings.gpus === "auto" ? (backend === "vllm" || project.host.gpu ? "all" : "none") : settings.gpus);
  for (const [backend, choice] of resolved) {
    if (choice.spec === "local") {
      runners.set(backend, new LocalRunner(resolvePython(project.user).python, choice.source, project.root));
      continue;
    }
    if (choice.spec === "slurm") {
      const { SlurmRunner } = await import("../exec/slurm/slurm-runner.js");
      runners.set(backend, new SlurmRunner(project.user.slurm, choice.source, project.root));
      continue;
    }
    const node = await imageNodeFor(project, backend, choice.spec);
    const { ensureImage } = await import("../exec/docker/images.js");
    const ensured = await ensureImage(node, {
      signal: options.signal,
      onEvent: (e) => options.emit({ type: "image", tag: e.tag, state: e.state, seconds: e.seconds }),
    });
    images.push({ backend, tag: ensured.tag, digest: ensured.digest, built: ensured.built });
  }

  let manager: import("../exec/docker/container-manager.js").ContainerManager | undefined;
  let exchangeRoot: string | undefined;
  for (const image of images) {
    const backend = image.backend;
    const choice = resolved.get(backend)!;
    const gpus = gpusFor(backend);
    if (options.strategy === "ephemeral") {
      const { DockerRunner } = await import("../exec/docker/docker-runner.js");
      runners.set(backend, new DockerRunner({
        ...common, image: image.tag, imageDigest: image.digest, source: choice.source, gpus, projectRoot: project.root,
        shmSize: settings.shm_size, memory: settings.memory, hfCache,
      }));
      continue;
    }
    const { PersistentRunner, makeExchangeRoot } = await import("../exec/docker/persistent-runner.js");
    exchangeRoot ??= makeExchangeRoot();
    manager ??= await makeManager(project, runId, exchangeRoot, images, images.some((i) => gpusFor(i.backend) !== "none"), hfCache);
    const runner = new PersistentRunner({
      ...common, manager, service: backend, exchangeRoot, image: image.tag, imageDigest: image.digest, source: choice.source,
      health: { ...settings.health_check, force_cold_start: settings.cold_start.force_cold_start }, gpu: gpus !== "none" && Boolean(project.host.gpu),
    });
    runners.set(backend, runner);
    disposers.push(() => runner.dispose()); // the runners share one manager; tearing it down twice is a no-op
  }
  const dispose = async () => {
    for (const d of disposers) await d();
    if (manager && !settings.auto_teardown) {
      options.emit({ type: "containers", message: `persistent containers left running (auto_teardown: false); stop them with: ${manager.downCommand}` });
    }
  };
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
    images,
    dispose,
  };

  async function makeManager(project: Project, runId: string, root: string, services: ImageInfo[], gpu: boolean, hf: string | undefined) {
    const { detectCompose } = await import("../exec/docker/compose.js");
    const { ContainerManager } = await import("../exec/docker/container-manager.js");
    const { ownerLabels } = await import("../exec/docker/labels.js");
    const compose = await detectCompose();
    if (!compose) throw new LemError("the persistent strategy needs Docker Compose, and neither `docker compose` nor `docker-compose` answers", "install docker-compose (or the compose plugin), or use --container-strategy ephemeral", 1);
    const labels = ownerLabels(runId);
    return new ContainerManager({
      compose, project: `lem-${runId}`, services: services.map((s) => s.backend),
      files: [join(DOCKER_DIR, "compose.yaml"), ...(gpu ? [join(DOCKER_DIR, "compose.gpu.yaml")] : [])],
      env: {
        LEM_EXCHANGE_ROOT: root, LEM_PROJECT_ROOT: project.root, LEM_SHM_SIZE: project.user.docker.shm_size, LEM_RUN_ID: runId,
        ...Object.fromEntries(services.map((s) => [`LEM_IMAGE_${s.backend.toUpperCase()}`, s.tag])),
        // Services left up on purpose (auto_teardown: false) are nobody's orphans: owner pid 0 is never reaped.
        LEM_OWNER_PID: project.user.docker.auto_teardown ? labels["org.llenergymeasure.owner-pid"] : "0",
        LEM_OWNER_HOST: labels["org.llenergymeasure.owner-host"],
        LEM_OWNER_START: labels["org.llenergymeasure.owner-start"], LEM_OWNER_BOOT: labels["org.llenergymeasure.owner-boot"],
        ...(hf ? { LEM_HF_CACHE: hf } : {}),
      },
      warmupDelay: project.user.docker.warmup_delay, autoTeardown: project.user.docker.auto_teardown,
    });
  }
}
