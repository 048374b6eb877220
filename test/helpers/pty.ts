// Runs a command on a real pseudo-terminal of a given size (python's pty module), typing keys once
// given text has appeared, and returns everything the terminal received: what a user would see.
import { spawn, spawnSync } from "node:child_process";

export interface PtyStep { after: string; send: string }
export interface PtyRun { code: number; output: string }

const DRIVER = String.raw`
import fcntl, json, os, pty, select, struct, sys, termios, time
rows, cols = int(sys.argv[1]), int(sys.argv[2])
steps = json.loads(sys.argv[3])
cmd = sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    os.execvp(cmd[0], cmd)
out = b""
deadline = time.time() + 90
while time.time() < deadline:
    if steps and steps[0]["after"].encode() in out:
        time.sleep(0.05)
        os.write(fd, steps.pop(0)["send"].encode())
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
sys.stdout.write(json.dumps({"code": 128 - code if code < 0 else code, "output": out.decode("utf-8", "replace")}))
`;

export const hasPython = () => spawnSync("python3", ["-c", "import pty"]).status === 0;

/** `argv` on a rows×columns terminal in `cwd`; each step's keys are typed once its text has appeared. */
export function runOnPty(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; rows: number; columns: number; steps?: PtyStep[] }): Promise<PtyRun> {
  const child = spawn("python3", ["-c", DRIVER, String(opts.rows), String(opts.columns), JSON.stringify(opts.steps ?? []), ...argv], { cwd: opts.cwd, env: opts.env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => child.on("close", () => {
    try { resolve(JSON.parse(stdout) as PtyRun); } catch { reject(new Error(`pty driver failed: ${stderr}`)); }
  }));
}

/**
 * The frames a terminal showed: the output split where the view moved back up and cleared
 * (ESC[J), each with ANSI sequences removed and cut into its lines.
 */
export function frames(output: string): string[][] {
  return output.split("\u001b[J").map((chunk) =>
    chunk.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "").split("\n").filter((l) => l.length > 0));
}
