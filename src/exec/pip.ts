import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { LemError } from "../errors.js";

/**
 * pip's own words for a request that failed to connect or timed out. With --retries 1 it says this
 * once, on the first failure, instead of retrying each index for minutes (seen: 451 s against 54 s
 * for an install whose default index was unreachable but whose local mirror had everything).
 */
const UNREACHABLE = /^WARNING: Retrying \(Retry\(.*after connection broken by '(\w+)/;

/** Flags for every pip call lem makes: one retry, 20 s per connection or read, plain lines (FORCE_COLOR would colour them). */
export const PIP_FLAGS = ["--disable-pip-version-check", "--no-color", "--progress-bar", "off", "--retries", "1", "--timeout", "20"] as const;

export interface CommandOptions {
  signal?: AbortSignal;
  /** Each line the command prints, for the user to watch: an install takes a minute or more. */
  onLine?: (line: string) => void;
}

/** Credentials in an index URL never reach a message or a log: scheme://user:secret@host → scheme://***@host. */
export const redactUrls = (text: string) => text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@'"]+@/gi, "$1***@");

/**
 * Runs a command (pip, or python -m venv), passing its lines on, redacted; pip's first unreachable
 * index ends it at once with the fix. `failed` words any other failure, given pip's last lines.
 */
export function runCommand(cmd: string, args: readonly string[], opts: CommandOptions,
  failed: (status: string, tail: string[]) => LemError): Promise<void> {
  return new Promise((resolve, reject) => {
    // PIP_NO_INPUT: a pip that would ask for a password fails instead of waiting for a key press.
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PIP_NO_INPUT: "1" } });
    const tail: string[] = [];
    let unreachable: string | undefined;
    let index = "";
    const onLine = (raw: string) => {
      const line = redactUrls(raw.replace(/\x1b\[[0-9;]*m/g, ""));
      tail.push(line);
      if (tail.length > 15) tail.shift();
      opts.onLine?.(line);
      if (line.startsWith("Looking in indexes:")) index = line.slice("Looking in indexes:".length).trim();
      const m = UNREACHABLE.exec(line);
      if (m && !unreachable) {
        unreachable = `${m[1]} for ${line.match(/': (\S+)$/)?.[1] ?? "a package"}`;
        child.kill("SIGKILL");
      }
    };
    createInterface({ input: child.stdout }).on("line", onLine);
    createInterface({ input: child.stderr }).on("line", onLine);
    const abort = () => child.kill("SIGKILL");
    opts.signal?.addEventListener("abort", abort, { once: true });
    child.on("error", (e) => reject(failed(e.message, tail)));
    child.on("close", (code, signal) => {
      opts.signal?.removeEventListener("abort", abort);
      if (opts.signal?.aborted) return reject(new LemError(`${cmd} was interrupted; nothing half-installed was kept`, "run the command again", 130));
      if (unreachable) {
        return reject(new LemError(`pip cannot reach a package index it is set to use (${unreachable}; indexes: ${index || "pip's default"})`,
          "point pip at an index or mirror it can reach (PIP_INDEX_URL=URL, or PIP_NO_INDEX=1 with PIP_FIND_LINKS=a folder of wheels), "
          + "then run `npx lem setup` again; or set LEM_PYTHON to a Python that has torch and transformers", 1));
      }
      if (code === 0) return resolve();
      reject(failed(code === null ? `killed by ${signal}` : `exit ${code}`, tail));
    });
  });
}
