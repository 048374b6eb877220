import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import { randomBytes } from "node:crypto";
import { PACKAGE_ROOT, DOCKER_DIR } from "../../paths.js";
import { resolvePython } from "../../config/python.js";
import { LemError } from "../../errors.js";
import { imageDigest, imageForSpec, ensureImage } from "./images.js";
import { reapOrphans } from "./reaper.js";
import type { Runner } from "../runner.js";
import type { CreateOptions, ImageInfo, KindRunners, RunnerSettings } from "../runner-policy.js";
import type { ResolvedRunner } from "../../config/runner-resolution.js";
import type { Backend } from "../../lemfile/types.js";
import type { ContainerManager } from "./container-manager.js";

// The docker kind's runners: one image per backend (built when missing), then a fresh container
// per node (ephemeral) or one long-lived service per backend (persistent), all in one compose project.

const imageNodeFor = (settings: RunnerSettings, backend: Backend, spec: string) =>
  imageForSpec(backend, spec, { gpu: settings.gpu, root: PACKAGE_ROOT });

/** For `lem status`: the image each docker backend runs in, and its digest if it exists yet. */
export async function describeDockerImages(group: Map<Backend, ResolvedRunner>, settings: RunnerSettings): Promise<ImageInfo[]> {
  const out: ImageInfo[] = [];
  for (const [backend, choice] of group) {
    const node = imageNodeFor(settings, backend, choice.spec);
    const digest = (await imageDigest(node.tag)) ?? null;
    out.push({ backend, tag: node.tag, digest, built: digest !== null });
  }
  return out;
}

/**
 * The runners of the docker backends: orphans of killed builds reaped, images built when missing,
 * then each backend's runner (persistent services start in their prepare()).
 */
export async function createDockerRunners(group: Map<Backend, ResolvedRunner>, host: RunnerSettings, options: CreateOptions): Promise<KindRunners> {
  const reaped = await reapOrphans();
  if (reaped.length) options.emit({ type: "containers", message: `removed ${reaped.length} container(s) left by a killed lem: ${reaped.join(", ")}` });
  const images: ImageInfo[] = [];
  for (const [backend, choice] of group) {
    const ensured = await ensureImage(imageNodeFor(host, backend, choice.spec), {
      signal: options.signal, python: resolvePython(host.user).python,
      onEvent: (e) => options.emit({ type: "image", tag: e.tag, state: e.state, seconds: e.seconds }),
    });
    images.push({ backend, tag: ensured.tag, digest: ensured.digest, built: ensured.built });
  }

  const runners = new Map<Backend, Runner>();
  const disposers: (() => Promise<void>)[] = [];
  const runId = randomBytes(4).toString("hex");
  const docker = host.user.docker;
  const common = { runId, campaignName: basename(host.root), secrets: docker.secrets };
  const hfCache = [process.env.HF_HOME, join(homedir(), ".cache", "huggingface")].find((p) => p && existsSync(p));
  const gpusFor = (backend: Backend) => (docker.gpus === "auto" ? (backend === "vllm" || host.gpu ? "all" : "none") : docker.gpus);
  let manager: ContainerManager | undefined;
  let exchangeRoot: string | undefined;
  for (const image of images) {
    const backend = image.backend;
    const choice = group.get(backend)!;
    const gpus = gpusFor(backend);
    if (options.strategy === "ephemeral") {
      const { DockerRunner } = await import("./docker-runner.js");
      const runner = new DockerRunner({
        ...common, image: image.tag, imageDigest: image.digest, source: choice.source, gpus, projectRoot: host.root,
        shmSize: docker.shm_size, memory: docker.memory, hfCache,
      });
      runners.set(backend, runner);
      disposers.push(() => runner.dispose()); // its shared servers' containers
      continue;
    }
    const { PersistentRunner } = await import("./persistent-runner.js");
    const { makeExchangeRoot } = await import("./exec-harness.js");
    exchangeRoot ??= makeExchangeRoot();
    manager ??= await makeManager(host, runId, exchangeRoot, images, images.some((i) => gpusFor(i.backend) !== "none"), hfCache);
    const runner = new PersistentRunner({
      ...common, manager, service: backend, exchangeRoot, image: image.tag, imageDigest: image.digest, source: choice.source,
      health: { ...docker.health_check, force_cold_start: docker.cold_start.force_cold_start }, gpu: gpus !== "none" && Boolean(host.gpu),
    });
    runners.set(backend, runner);
    disposers.push(() => runner.dispose()); // the runners share one manager; tearing it down twice is a no-op
  }
  const dispose = async () => {
    for (const d of disposers) await d();
    if (manager && !docker.auto_teardown) {
      options.emit({ type: "containers", message: `persistent containers left running (auto_teardown: false); stop them with: ${manager.downCommand}` });
    }
  };
  return { runners, images, dispose };
}

async function makeManager(host: RunnerSettings, runId: string, root: string, services: ImageInfo[], gpu: boolean, hf: string | undefined) {
  const { detectCompose } = await import("./compose.js");
  const { ContainerManager } = await import("./container-manager.js");
  const { ownerLabels } = await import("./labels.js");
  const compose = await detectCompose();
  if (!compose) throw new LemError("the persistent strategy needs Docker Compose, and neither `docker compose` nor `docker-compose` answers", "install docker-compose (or the compose plugin), or use --container-strategy ephemeral", 1);
  const labels = ownerLabels(runId);
  return new ContainerManager({
    compose, project: `lem-${runId}`, services: services.map((s) => s.backend),
    files: [join(DOCKER_DIR, "compose.yaml"), ...(gpu ? [join(DOCKER_DIR, "compose.gpu.yaml")] : [])],
    env: {
      LEM_EXCHANGE_ROOT: root, LEM_PROJECT_ROOT: host.root, LEM_SHM_SIZE: host.user.docker.shm_size, LEM_RUN_ID: runId,
      ...Object.fromEntries(services.map((s) => [`LEM_IMAGE_${s.backend.toUpperCase()}`, s.tag])),
      // Services left up on purpose (auto_teardown: false) are nobody's orphans: owner pid 0 is never reaped.
      LEM_OWNER_PID: host.user.docker.auto_teardown ? labels["org.llenergymeasure.owner-pid"] : "0",
      LEM_OWNER_HOST: labels["org.llenergymeasure.owner-host"],
      LEM_OWNER_START: labels["org.llenergymeasure.owner-start"], LEM_OWNER_BOOT: labels["org.llenergymeasure.owner-boot"],
      ...(hf ? { LEM_HF_CACHE: hf } : {}),
    },
    warmupDelay: host.user.docker.warmup_delay, autoTeardown: host.user.docker.auto_teardown,
  });
}
