import type { NodeError } from "../events.js";
import { LemError } from "../../errors.js";

export type DockerErrorKind = "image-missing" | "gpu-unavailable" | "oom" | "timeout" | "permission" | "daemon-down" | "container";

/** Every Docker failure falls in one of these categories, each with its fix; `type` is what a result's error and `lem build --json` show (README "Runners and containers"). */
const CATEGORIES: Record<DockerErrorKind, { type: string; fix: string }> = {
  "image-missing": { type: "DockerImagePullError", fix: "build the image first (lem builds its default images itself; `docker:<image>` images are yours to build), or fix the name: lem never pulls" },
  "gpu-unavailable": { type: "DockerGPUAccessError", fix: "install the NVIDIA Container Toolkit and restart dockerd, or set docker.gpus: none in .lem-config.yaml to run on the CPU" },
  oom: { type: "DockerOOMError", fix: "the container ran out of memory: lower pytorch.batch_size or n, use a smaller model or precision, or raise the memory limit" },
  timeout: { type: "DockerTimeoutError", fix: "raise timeout_seconds in .lem-config.yaml, or lower n / max_output_tokens" },
  permission: { type: "DockerPermissionError", fix: "add your user to the docker group (sudo usermod -aG docker $USER, then log in again), or run lem as a user that may use the Docker socket" },
  "daemon-down": { type: "DockerDaemonError", fix: "start Docker (sudo systemctl start docker, or run dockerd) and check with `docker info`" },
  container: { type: "DockerContainerError", fix: "read the container output below and the harness log in the kept exchange dir" },
};

/** A LemError (exit 1) so that, outside a node (e.g. compose up), the CLI prints it with its fix. */
export class DockerError extends LemError {
  readonly type: string;
  declare readonly fix: string;
  constructor(readonly kind: DockerErrorKind, message: string, readonly stderrTail = "") {
    super(message, CATEGORIES[kind].fix, 1, stderrTail ? stderrTail.split("\n") : []);
    this.name = "DockerError";
    this.type = CATEGORIES[kind].type;
  }
  toNodeError(): NodeError {
    return { type: this.type, message: this.message, fix: this.fix, stderrTail: this.stderrTail };
  }
}

/** The last `lines` lines of a command's output, for error messages. */
export function tail(text: string, lines = 20): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Docker's own words → a category. The patterns match the messages the Docker CLI and daemon print
 * (test/docker-unit.test.ts holds real samples of each);
 * `oomKilled` comes from `docker inspect`, the only place that tells an OOM kill from any 137.
 */
export function translateDockerError(exitCode: number | null, stderr: string, image: string, state: { oomKilled?: boolean; timedOut?: boolean } = {}): DockerError {
  const text = tail(stderr);
  if (state.timedOut) return new DockerError("timeout", "the container ran past its timeout and was stopped", text);
  if (state.oomKilled) return new DockerError("oom", `the container was killed for running out of memory (exit ${exitCode}, OOMKilled)`, text);
  if (/permission denied while trying to connect to the docker daemon/i.test(stderr)) return new DockerError("permission", "no permission to use the Docker socket", text);
  if (/cannot connect to the docker daemon|is the docker daemon running/i.test(stderr)) return new DockerError("daemon-down", "the Docker daemon is not running", text);
  if (/could not select device driver .* with capabilities: \[\[gpu\]\]|nvidia-container-cli|unknown or invalid runtime name: nvidia/i.test(stderr)) {
    return new DockerError("gpu-unavailable", "GPUs were requested but Docker has no NVIDIA runtime", text);
  }
  if (/no such image|unable to find image|pull access denied|manifest unknown|repository does not exist/i.test(stderr)) {
    return new DockerError("image-missing", `image ${image} is not available locally`, text);
  }
  return new DockerError("container", exitCode === 0 ? "the container exited 0 but wrote no result file" : `the container exited with code ${exitCode}`, text);
}
