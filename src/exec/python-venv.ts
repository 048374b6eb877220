import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LemError } from "../errors.js";
import type { LemVenv } from "../config/python.js";
import { REQUIREMENTS_FILE } from "../paths.js";
import { PIP_FLAGS, runCommand, type CommandOptions } from "./pip.js";

/**
 * Makes lem's venv from `base` (a Python that can make venvs) and installs the pinned requirements
 * into it. The marker is written last, so an interrupted or failed install is never used: it is
 * removed, and the next `lem setup` starts again.
 */
export async function makeVenv(venv: LemVenv, base: string, opts: CommandOptions = {}): Promise<void> {
  clearIncomplete(venv);
  try {
    await runCommand(base, ["-m", "venv", venv.dir], opts, (status, tail) => new LemError(
      `${base} -m venv ${venv.dir} failed (${status})`, "on Debian install python3-venv; else use a Python 3.11 with its venv module, then run `npx lem setup` again", 1, tail));
    await runCommand(venv.python, ["-m", "pip", "install", ...PIP_FLAGS, "-r", REQUIREMENTS_FILE], opts, (status, tail) => new LemError(
      `pip could not install the harness's requirements into ${venv.dir} (${status})`,
      "fix what pip's last lines name (disk space, a package pip cannot find), then run `npx lem setup` again", 1, tail));
    writeFileSync(venv.marker, `${venv.key}\n`);
  } catch (error) {
    rmSync(venv.dir, { recursive: true, force: true });
    throw error;
  }
}

/** An earlier, unfinished venv is removed; a folder that is not a venv (LEM_VENV pointing elsewhere) is never touched. */
function clearIncomplete(venv: LemVenv) {
  if (!existsSync(venv.dir)) return;
  if (existsSync(join(venv.dir, "pyvenv.cfg")) || readdirSync(venv.dir).length === 0) {
    rmSync(venv.dir, { recursive: true, force: true });
    return;
  }
  throw new LemError(`${venv.dir} exists and is not a venv, so lem will not install into it or remove it`,
    "point LEM_VENV at a new or empty folder (or unset it), then run `npx lem setup` again");
}
