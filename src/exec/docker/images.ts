import { createHash } from "node:crypto";
import { lstatSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { ImageError } from "./image-error.js";
import { canonicalJson } from "../../config/canonical-json.js";
import { contextFiles } from "./build-context.js";
import { PACKAGE_ROOT } from "../../paths.js";
import { tail } from "./errors.js";
import { dockerBinary } from "./docker-cli.js";
import { assembleContext, ensureWheelhouse, IMAGE_PYTHON } from "./wheelhouse.js";
import { resolvePython } from "../../config/python.js";

/**
 * Container images as graph nodes. An image's hash covers everything that decides its content as
 * far as lem controls it (Dockerfile, build context, build args, the image it builds on), so it is
 * built only when missing or changed, and the tag names that content: lem-<backend>:<hash>.
 */
export interface ImageNode {
  /** For people: "image:pytorch", "image:debian-bookworm-minbase". */
  name: string;
  backend: "pytorch" | "vllm" | "base";
  /** What `docker run` is given: built by lem (`lem-…:<hash>`) or the user's `docker:<image>`. */
  tag: string;
  /** 12 hex digits; for a user image, of its reference only (lem does not know its content). */
  hash: string;
  /** Absolute paths; a node with neither is built by `script` or not by lem at all. */
  dockerfile?: string;
  context?: string;
  /** A build script run as `bash <script> <tag> <SUITE>` (the offline Debian base). */
  script?: string;
  buildArgs: Record<string, string>;
  /** Its context gets `wheels/`: the harness's pinned requirements for this Python, fetched on the host. */
  wheels?: string;
  dependsOn?: ImageNode;
  /** Set for `docker:<image>` runner specs: lem only checks that it exists. */
  external?: true;
}

export interface EnsuredImage {
  tag: string;
  /** The local image Id, "sha256:…" (a repo digest needs a registry; the Id is what a host has). */
  digest: string;
  built: boolean;
  /** Build time, when built. */
  seconds?: number;
}

/** Progress of ensureImage, one event per image (its dependency included): present, or building then built. */
export interface ImageEvent {
  tag: string;
  name: string;
  state: "building" | "built" | "present";
  seconds?: number;
  digest?: string;
}

export { ImageError, type ImageErrorKind } from "./image-error.js";

export { PACKAGE_ROOT };

/** bookworm: its python3 is the 3.11 that the image's wheels are fetched for (IMAGE_PYTHON). */
const BASE_SUITE = "bookworm";

/** What an image's hash is computed from: a node without its derived name, hash and tag. */
export type ImageRecipe = Pick<ImageNode, "backend" | "dockerfile" | "context" | "script" | "buildArgs" | "wheels" | "dependsOn" | "external">
  & { tag?: string };

/**
 * sha256, first 12 hex, over the recipe: the build script or Dockerfile bytes, each context file
 * docker would send (by .dockerignore; sorted; path + bytes), the build args as canonical JSON and
 * the hash of the image it builds on. A lem-built tag is derived from the hash, so is not hashed.
 */
export function imageHash(node: ImageRecipe): string {
  const h = createHash("sha256");
  // Every part is framed (label, length), so no two different recipes can feed the same bytes.
  const part = (label: string, bytes: Buffer | string) => {
    const buf = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
    h.update(`${label}\0${buf.length}\0`);
    h.update(buf);
  };
  part("lem-image", "1");
  part("backend", node.backend);
  if (node.external) part("ref", node.tag ?? "");
  if (node.script) part("script", readFileSync(node.script));
  if (node.dockerfile) part("dockerfile", readFileSync(node.dockerfile));
  if (node.context) {
    for (const rel of contextFiles(node.context)) {
      const abs = join(node.context, rel);
      // Docker sends a symlink as a link, so its target text is what matters, not the file behind it.
      const bytes = lstatSync(abs).isSymbolicLink() ? `symlink:${readlinkSync(abs)}` : readFileSync(abs);
      part("file", rel);
      part("bytes", bytes);
    }
  }
  part("args", canonicalJson(node.buildArgs));
  // The wheels themselves are named by the pins (requirements.txt is in the context), so only their Python counts.
  if (node.wheels) part("wheels", node.wheels);
  if (node.dependsOn) part("depends", node.dependsOn.hash);
  return h.digest("hex").slice(0, 12);
}

/** The offline Debian base (docker/build-base.sh): built with no registry, from the Debian mirror. */
export function baseImage(root = PACKAGE_ROOT, suite = BASE_SUITE): ImageNode {
  const recipe = { backend: "base" as const, script: join(root, "docker", "build-base.sh"), buildArgs: { SUITE: suite } };
  const hash = imageHash(recipe);
  return { ...recipe, name: `image:debian-${suite}-minbase`, hash, tag: `lem-debian:${suite}-minbase-${hash}` };
}

/**
 * The image lem builds for a backend. pytorch: the offline Debian base with the harness's pinned
 * requirements installed from wheels that the host's pip fetched, so it needs no registry and has
 * what the local runner's venv has. One image for CPU and GPU hosts: torch's CUDA build carries its
 * own CUDA libraries and the NVIDIA runtime adds the driver's, so which torch it holds is the host
 * pip's choice (PyPI's x86_64 torch is the CUDA build). vllm always needs its CUDA image.
 */
export function defaultImageFor(backend: "pytorch" | "vllm", opts: { gpu: boolean; root?: string }): ImageNode {
  const root = opts.root ?? PACKAGE_ROOT;
  const context = join(root, "docker");
  const dockerfile = join(context, `Dockerfile.${backend}`);
  const dependsOn = backend === "pytorch" ? baseImage(root) : undefined;
  const buildArgs: Record<string, string> = dependsOn ? { BASE: dependsOn.tag } : {};
  const recipe = { backend, dockerfile, context, buildArgs, dependsOn, ...(dependsOn ? { wheels: IMAGE_PYTHON } : {}) };
  const hash = imageHash(recipe);
  return { ...recipe, name: `image:${backend}`, hash, tag: `lem-${backend}:${hash}` };
}

/** A `docker:<image>` runner spec: the user's image, used as is. lem never builds or pulls it. */
export function userImage(ref: string, backend: "pytorch" | "vllm" = "pytorch"): ImageNode {
  const tag = ref.replace(/^docker:/, "");
  const recipe = { backend, tag, buildArgs: {}, external: true as const };
  return { ...recipe, name: `image:${tag}`, hash: imageHash(recipe) };
}

/** The image a docker runner spec runs in: the user's `docker:<image>`, else the one lem builds. */
export function imageForSpec(backend: "pytorch" | "vllm", spec: string, opts: { gpu: boolean; root?: string }): ImageNode {
  return spec.startsWith("docker:") ? userImage(spec, backend) : defaultImageFor(backend, opts);
}

/** The local image Id ("sha256:…") of a tag, or undefined when there is no such image. */
export async function imageDigest(tag: string, signal?: AbortSignal): Promise<string | undefined> {
  const out = await $({ signal, quiet: true, nothrow: true })`${dockerBinary()} image inspect --format {{.Id}} ${tag}`;
  if (out.exitCode === 0) return out.stdout.trim();
  if (signal?.aborted) throw new ImageError("interrupted", `inspecting ${tag} was interrupted`, "run the build again");
  const stderr = out.stderr;
  if (/no such image/i.test(stderr)) return undefined;
  throw dockerUnavailable(stderr) ?? new ImageError("image-missing", `cannot inspect image ${tag}`, "run `lem doctor` to check Docker", tail(stderr));
}

export interface EnsureOptions {
  signal?: AbortSignal;
  onEvent?: (event: ImageEvent) => void;
  /** The host Python whose pip fetches an image's wheels (default: the local runner's, as resolvePython finds it). */
  python?: string;
}

// One build per tag at a time: experiments that share an image wait for the same build.
const inFlight = new Map<string, Promise<EnsuredImage>>();

/** Builds the image (and, first, what it builds on) unless an image with its tag already exists. */
export function ensureImage(
  node: ImageNode,
  opts: EnsureOptions = {},
): Promise<EnsuredImage> {
  let pending = inFlight.get(node.tag);
  if (!pending) {
    pending = ensureOnce(node, opts).finally(() => inFlight.delete(node.tag));
    inFlight.set(node.tag, pending);
  }
  return pending;
}

async function ensureOnce(
  node: ImageNode,
  opts: EnsureOptions,
): Promise<EnsuredImage> {
  const existing = await imageDigest(node.tag, opts.signal);
  if (existing) {
    opts.onEvent?.({ tag: node.tag, name: node.name, state: "present", digest: existing });
    return { tag: node.tag, digest: existing, built: false };
  }
  if (node.external) {
    throw new ImageError("image-missing", `image ${node.tag} does not exist on this host`,
      `build or pull ${node.tag} first; lem never pulls`);
  }
  if (node.dependsOn) await ensureImage(node.dependsOn, opts);

  opts.onEvent?.({ tag: node.tag, name: node.name, state: "building" });
  const started = performance.now();
  await runBuild(node, opts);
  const seconds = (performance.now() - started) / 1000;
  const digest = await imageDigest(node.tag, opts.signal);
  if (!digest) throw new ImageError("image-build", `building ${node.tag} succeeded but the image is not there`, "run `lem doctor`, then retry");
  opts.onEvent?.({ tag: node.tag, name: node.name, state: "built", seconds, digest });
  return { tag: node.tag, digest, built: true, seconds };
}

/** The docker argv for a Dockerfile node (exported for tests of command construction). */
export function buildArgv(node: ImageNode, context = node.context): string[] {
  if (!node.dockerfile || !context) throw new TypeError(`${node.name} has no Dockerfile`);
  const args = Object.keys(node.buildArgs).sort().flatMap((k) => ["--build-arg", `${k}=${node.buildArgs[k]}`]);
  // The label lets `lem clean` and `lem doctor` find lem's images. No --pull: a BASE already here is
  // used as is (an absent one is pulled by docker, where a registry is reachable).
  // --force-rm: a failed legacy-builder step would otherwise leave its container behind.
  return ["build", "--force-rm", "-f", node.dockerfile, ...args, "--label", "org.llenergymeasure.image-hash=" + node.hash,
    "-t", node.tag, context];
}

async function runBuild(node: ImageNode, opts: EnsureOptions) {
  let context = node.context;
  if (node.wheels && node.context) {
    const wheels = await ensureWheelhouse(opts.python ?? resolvePython({}).python, { signal: opts.signal });
    context = assembleContext(node.context, wheels);
  }
  try {
    await runBuildIn(node, context, opts);
  } finally {
    if (context !== node.context) rmSync(context!, { recursive: true, force: true });
  }
}

async function runBuildIn(node: ImageNode, context: string | undefined, opts: EnsureOptions) {
  // Detached: its own process group, so an abort also stops debootstrap or docker import, not
  // just the shell that started them (the base script cleans up on SIGTERM).
  const $$ = $({ signal: opts.signal, quiet: true, nothrow: true, detached: true });
  const proc = node.script
    ? $$`bash ${node.script} ${node.tag} ${node.buildArgs.SUITE ?? BASE_SUITE}`
    : $$`${dockerBinary()} ${buildArgv(node, context)}`;
  const killGroup = () => { try { if (proc.pid) process.kill(-proc.pid, "SIGTERM"); } catch { /* gone */ } };
  opts.signal?.addEventListener("abort", killGroup, { once: true });
  const out = await proc;
  opts.signal?.removeEventListener("abort", killGroup);
  if (out.exitCode === 0) return;
  if (opts.signal?.aborted) throw new ImageError("interrupted", `building ${node.tag} was interrupted`, "run the build again");
  const all = out.stdall ?? out.stdout + out.stderr;
  throw dockerUnavailable(all) ?? new ImageError("image-build",
    `building ${node.name} (${node.tag}) failed with exit code ${out.exitCode}`, buildFix(node, all), tail(all));
}

/** The fix for a failed build, from what its output says. */
function buildFix(node: ImageNode, output: string): string {
  const base = node.buildArgs.BASE;
  if (node.script) {
    if (/needs root/.test(output)) return "run lem as root once to build the offline base (debootstrap needs root), or build it with `sudo docker/build-base.sh " + node.tag + "`";
    return "check network access to the Debian mirror (deb.debian.org, or set LEM_DEBIAN_MIRROR), then run the build again";
  }
  if (/pull access denied|manifest unknown|not found: manifest|no such host|dial tcp|TLS handshake|i\/o timeout/i.test(output)) {
    return `the base image${base ? ` ${base}` : ""} is neither here nor pullable: pull it where a registry is reachable (docker save | docker load), or use the offline CPU image`;
  }
  if (/no space left/i.test(output)) return "free disk space for Docker (docker system df; docker image prune), then run the build again";
  return "check network access to the Debian mirror (the build installs Debian's python3), and the output above";
}

/** Docker itself unusable: the same two cases every docker call can hit. */
function dockerUnavailable(stderr: string): ImageError | undefined {
  if (/Cannot connect to the Docker daemon|Is the docker daemon running/i.test(stderr)) {
    return new ImageError("daemon-down", "the Docker daemon is not running", "start dockerd (or the Docker service) and retry", tail(stderr));
  }
  if (/permission denied while trying to connect/i.test(stderr)) {
    return new ImageError("permission", "no permission to use the Docker socket", "add your user to the docker group (then log in again) or run lem as root", tail(stderr));
  }
  if (/command not found|ENOENT.*docker|docker: not found/i.test(stderr)) {
    return new ImageError("daemon-down", "the docker command is not installed", "install Docker (e.g. apt-get install docker.io) or use the local runner", tail(stderr));
  }
  return undefined;
}

