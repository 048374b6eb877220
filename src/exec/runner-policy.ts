import type { Backend, ExperimentConfig } from "../lemfile/types.js";
import type { UserConfig, UserLayers } from "../config/user-config.js";
import type { ResolvedRunner } from "../config/runner-resolution.js";
import type { RunnerName, Strategy } from "../config/runner-kinds.js";
import type { Runner } from "./runner.js";
import type { BuildEvent } from "./events.js";
import type { HostHardware } from "./hardware.js";
import type { PreflightSettings, RunnerProblem } from "./preflight.js";

/** What building runners needs to know of the project and this host. */
export interface RunnerSettings {
  /** The project root: local runs start there; containers mount it. */
  root: string;
  user: UserConfig;
  /** This host has an NVIDIA GPU: images are built for CUDA, containers get GPUs. */
  gpu: boolean;
}

export interface ImageInfo { backend: Backend; tag: string; digest: string | null; built: boolean }

export interface CreateOptions {
  strategy: Strategy;
  /** Aborted by the first Ctrl-C: an image build stops. */
  signal: AbortSignal;
  emit: (event: BuildEvent) => void;
}

/** One kind's runners, by backend, and what they need let go of after the build. */
export interface KindRunners {
  runners: Map<Backend, Runner>;
  images?: ImageInfo[];
  dispose?(): Promise<void>;
}

/** What a kind that measures elsewhere needs to name the hardware its nodes will run on. */
export interface PlanningContext {
  user: UserConfig;
  root: string;
  /** This host, as planned (it stands in where the other machines are not known). */
  host: HostHardware;
  /** The configs of the backends that resolved to this kind. */
  configs: ExperimentConfig[];
  /** A real build: the kind may ask its machines now (a probe job); else only what is known. */
  probe: boolean;
  /** A line for stderr: progress and warnings. */
  notify: (line: string) => void;
}

/**
 * One runner kind's policy, the same questions for every kind: how its runners are made, whether
 * they can work here, where its nodes run and how many at a time. exec/runner-kinds.ts holds one
 * per kind; adding a kind is its folder plus one entry there.
 */
export interface RunnerPolicy {
  /** Its nodes run on this host and share its CPU and GPUs (device checks, --jobs sharing, --gpus). */
  onHost: boolean;
  /** Nodes at a time when a build uses this kind alone and --jobs is not given: the setting's two lowest layers. */
  jobs(user: UserConfig): UserLayers<number>;
  /** The strategy needs the user's yes first (docker's long-lived containers are less isolated). */
  confirms?(strategy: Strategy): boolean;
  /** Why the runner cannot work here for this backend, with the fix; undefined when it can. */
  check(backend: Backend, spec: RunnerName, settings: PreflightSettings): Promise<RunnerProblem | undefined>;
  /**
   * Makes the runners of the backends resolved to this kind; nothing long-lived starts before each
   * runner's prepare().
   */
  create(group: Map<Backend, ResolvedRunner>, settings: RunnerSettings, options: CreateOptions): Promise<KindRunners>;
  /** For lem status: the images its backends run in, built or not. */
  images?(group: Map<Backend, ResolvedRunner>, settings: RunnerSettings): Promise<ImageInfo[]>;
  /**
   * Where its nodes are measured when that is not this host: a fingerprint per config, or
   * undefined while not known (this host stands in; `notify` says so).
   */
  planningHardware?(context: PlanningContext): Promise<((config: ExperimentConfig) => string) | undefined>;
}
