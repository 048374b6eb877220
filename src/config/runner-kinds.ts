// The names of lem's runner kinds, for the layers below exec/ (settings, results). What each kind
// does is its entry in exec/runner-kinds.ts, a map checked against this list: a kind named here
// without an entry there does not compile.

/** Where a node runs: this host's Python, a container on this host, or a Slurm job. */
export const RUNNER_KINDS = ["local", "docker", "slurm"] as const;
export type RunnerKind = (typeof RUNNER_KINDS)[number];

/** A runner as settings name it: a kind, or `<kind>:<detail>` (docker:<image>). */
export type RunnerName = RunnerKind | `docker:${string}`;

/** How the ways to name each kind read in a message ("docker:<image>" is docker with an image of one's own). */
const NAME_FORMS: Record<RunnerKind, readonly string[]> = { local: ["local"], docker: ["docker", "docker:<image>"], slurm: ["slurm"] };

/** Every name a setting may give, in order (for messages: "local", "docker", "docker:<image>" or "slurm"). */
export const RUNNER_NAME_FORMS: readonly string[] = RUNNER_KINDS.flatMap((kind) => NAME_FORMS[kind]);

/** The kind a runner name means: what comes before the first ":". */
export const kindOf = (name: RunnerName): RunnerKind => name.split(":")[0] as RunnerKind;

const NAME_PATTERN = new RegExp(`^(${RUNNER_NAME_FORMS.map((form) => form.replace(/<[^>]+>/, ".+")).join("|")})$`);

/** A runner value as a setting may write it: a kind, or docker:<image>. */
export const isRunnerName = (value: string): value is RunnerName => NAME_PATTERN.test(value);

/** What `auto` resolves to: docker where a Docker daemon answers, else local; never a cluster (that is a machine setting). */
export const autoKind = (daemonAnswers: boolean): Extract<RunnerKind, "docker" | "local"> => (daemonAnswers ? "docker" : "local");

/** docker's two ways to run nodes: a fresh container each, or long-lived ones (faster, less isolated). */
export const STRATEGIES = ["ephemeral", "persistent"] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** What a result records as its runner: the kind, with docker's long-lived containers told apart. */
export type RunnerType = RunnerKind | Extract<Strategy, "persistent">;

/** "a, b or c". */
export const oneOf = (words: readonly string[]): string => (words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`);
