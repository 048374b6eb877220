import { LemError } from "../../errors.js";
import type { NodeError } from "../events.js";

export type ImageErrorKind = "image-missing" | "image-build" | "daemon-down" | "permission" | "interrupted";

/** The Docker error types (errors.ts's categories, plus DockerImageBuildError), as a node's error shows them. */
const ERROR_TYPES: Record<ImageErrorKind, string> = {
  "image-missing": "DockerImagePullError", "image-build": "DockerImageBuildError",
  "daemon-down": "DockerDaemonError", permission: "DockerPermissionError", interrupted: "Interrupted",
};

/** An image that is missing or would not build: what, why, the fix, and the build's last lines. */
export class ImageError extends LemError {
  readonly type: string;
  constructor(
    readonly kind: ImageErrorKind,
    message: string,
    fix: string,
    readonly stderrTail = "",
  ) {
    // The CLI prints message and fix only, and a failed build is unreadable without its last lines.
    super(stderrTail ? `${message}; its last lines:\n${stderrTail.replace(/^/gm, "    ")}` : message, fix, 1);
    this.name = "ImageError";
    this.type = ERROR_TYPES[kind];
  }
  toNodeError(): NodeError {
    return { type: this.type, message: this.message, fix: this.fix, stderrTail: this.stderrTail };
  }
}
