import { harnessEnv } from "../../env.js";
import type { PlannedNode } from "../../graph/plan.js";

/** Everything one `docker run` of the harness needs; turned into argv by dockerRunArgs (pure). */
export interface RunSpec {
  image: string;
  name: string;
  /** Host exchange dir, mounted at /run/llem. */
  exchangeDir: string;
  configFile: string;
  labels: Record<string, string>;
  /** "none", "all", or a device list such as "0,1". */
  gpus: string;
  shmSize: string;
  /** 0600 file with secrets (HF_TOKEN...): they never appear in argv. */
  envFile?: string;
  env: Record<string, string>;
  /** The project folder, mounted read-only as the working dir so relative dataset paths resolve. */
  projectDir?: string;
  /** Host Hugging Face cache, mounted so models are not downloaded by every container. */
  hfCache?: string;
  memory?: string;
  user?: string;
  cidFile?: string;
  command: string[];
}

export const CONTAINER_EXCHANGE = "/run/llem";
export const CONTAINER_PROJECT = "/run/lem-project";
export const HARNESS_COMMAND = ["python3", "-m", "lem_harness"];

export function dockerRunArgs(spec: RunSpec): string[] {
  const args = ["run", ...containerOptions(spec), "-v", `${spec.exchangeDir}:${CONTAINER_EXCHANGE}`];
  for (const [key, value] of Object.entries(harnessEnv({ CONFIG_PATH: `${CONTAINER_EXCHANGE}/${spec.configFile}` }))) args.push("-e", `${key}=${value}`);
  for (const [key, value] of Object.entries(spec.env)) args.push("-e", `${key}=${value}`);
  if (spec.envFile) args.push("--env-file", spec.envFile);
  args.push(spec.image, ...spec.command);
  return args;
}

/** The container's part of `docker run` (name, labels, resources, user, the project and HF cache mounts), shared by every container lem runs. */
export function containerOptions(spec: Omit<RunSpec, "exchangeDir" | "configFile" | "env" | "envFile" | "command" | "image">): string[] {
  const args = ["--init", "--pull", "never", "--name", spec.name];
  for (const [key, value] of Object.entries(spec.labels)) args.push("--label", `${key}=${value}`);
  if (spec.cidFile) args.push("--cidfile", spec.cidFile);
  args.push("--shm-size", spec.shmSize);
  if (spec.gpus !== "none") args.push("--gpus", spec.gpus === "all" ? "all" : `"device=${spec.gpus}"`);
  if (spec.memory) args.push("--memory", spec.memory, "--memory-swap", spec.memory);
  if (spec.user) args.push("--user", spec.user);
  if (spec.projectDir) args.push("-v", `${spec.projectDir}:${CONTAINER_PROJECT}:ro`, "-w", CONTAINER_PROJECT);
  if (spec.hfCache) args.push("-v", `${spec.hfCache}:/root/.cache/huggingface`);
  return args;
}

/** Not root: the container runs as this user, so what it writes in mounted folders is the user's. */
export const containerUser = (): string | undefined => (process.getuid?.() === 0 ? undefined : `${process.getuid?.()}:${process.getgid?.()}`);

/** Env vars every experiment a Docker runner dispatches sees: which build (run id, lemfile), which cycle of how many. */
export function campaignEnv(o: { runId: string; campaignName: string }, node: Pick<PlannedNode, "cycle">, totalCycles: number): Record<string, string> {
  return { LEM_CAMPAIGN_ID: o.runId, LEM_CAMPAIGN_NAME: o.campaignName, LEM_CYCLE: String(node.cycle), LEM_TOTAL_CYCLES: String(totalCycles) };
}

/** A container name from the node: readable in `docker ps`, unique per run. */
export function containerName(hash: string, cycle: number, runId: string): string {
  return `lem-${hash}-c${cycle}-${runId}`;
}
