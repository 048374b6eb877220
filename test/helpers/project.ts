import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./temp.js";

export const LEM_BIN = fileURLToPath(new URL("../../bin/lem.js", import.meta.url));

export interface RunResult { code: number | null; stdout: string; stderr: string }

/** Runs `lem ...` as a user would, in `cwd`, and collects its output. */
export function lem(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> & { child: ChildProcess } {
  const child = spawn(process.execPath, [LEM_BIN, ...args], { cwd, env: { ...process.env, CI: "true", ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<RunResult>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return Object.assign(done, { child });
}

/**
 * A temporary project outside the repo whose lemfile imports "llenergymeasure" (not installed
 * there: lem resolves it to itself). `body` is the object passed to defineLemfile, as code.
 */
export class TempProject {
  readonly dir = tempDir("lem-project-");
  constructor(body: string, private readonly env: NodeJS.ProcessEnv = {}) {
    this.write(body);
  }
  write(body: string) {
    writeFileSync(join(this.dir, "lemfile.ts"), `import { defineLemfile, sweep } from "llenergymeasure";\n\nexport default defineLemfile(${body});\n`);
  }
  writeRaw(source: string) {
    writeFileSync(join(this.dir, "lemfile.ts"), source);
  }
  run(...args: string[]) {
    return lem(this.dir, args, this.env);
  }
  async json<T = { nodes: { name: string; hash: string; cycle: number; state: string; reason?: string }[]; summary?: Record<string, number> }>(...args: string[]): Promise<T> {
    const r = await this.run(...args, "--json");
    try {
      return JSON.parse(r.stdout) as T;
    } catch {
      throw new Error(`lem ${args.join(" ")} --json exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    }
  }
  /** Every stored result file, relative to results/. */
  resultFiles(): string[] {
    const root = join(this.dir, "results");
    if (!existsSync(root)) return [];
    return readdirSync(root, { recursive: true }).map(String).filter((f) => /cycle-\d+\.json$/.test(f)).sort();
  }
}
