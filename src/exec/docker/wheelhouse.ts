import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { requirementsKey } from "../../config/python.js";
import { lemCacheDir, REQUIREMENTS_FILE } from "../../paths.js";
import { PIP_FLAGS, runCommand, type CommandOptions } from "../pip.js";
import { contextFiles } from "./build-context.js";
import { ImageError } from "./image-error.js";

/**
 * The Python in lem's pytorch image: Debian bookworm's python3. The wheels are fetched for it, and
 * the torch 2.13.0 CPU build some machines keep on disk is for it too.
 */
export const IMAGE_PYTHON = "3.11" as const;

const ARCH: Record<string, string> = { x64: "x86_64", arm64: "aarch64" };

/** pip's target for the image: CPython 3.11 on glibc 2.17 to 2.36 (bookworm's), binary wheels only. */
function targetFlags(arch: string): string[] {
  const platforms = [`manylinux2014_${arch}`, ...Array.from({ length: 20 }, (_, i) => `manylinux_2_${17 + i}_${arch}`)];
  return ["--only-binary=:all:", "--python-version", IMAGE_PYTHON, "--implementation", "cp",
    "--abi", `cp${IMAGE_PYTHON.replace(".", "")}`, "--abi", "abi3", "--abi", "none", ...platforms.flatMap((p) => ["--platform", p])];
}

/** Where the image's wheels are kept, named by the pins, the Python and the machine. */
export const wheelhouseDir = (arch = ARCH[process.arch] ?? process.arch) =>
  join(lemCacheDir(), `wheels-${requirementsKey()}-cp${IMAGE_PYTHON.replace(".", "")}-${arch}`);

/**
 * The pinned requirements as wheels for the image, fetched on this host by `python -m pip download`
 * with pip as this machine has it set up (its index, mirror, wheel folders, CA), since a build
 * inside Docker has none of that. Kept in lem's cache, named by the pins, so a rebuild fetches nothing.
 */
export async function ensureWheelhouse(python: string, opts: CommandOptions = {}): Promise<string> {
  const arch = ARCH[process.arch];
  if (!arch) throw new ImageError("image-build", `lem's pytorch image is built for x86_64 and aarch64, not ${process.arch}`, "use the local runner, or a docker:<image> of your own");
  const dir = wheelhouseDir(arch);
  if (existsSync(dir)) return dir;
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  try {
    await runCommand(python, ["-m", "pip", "download", ...PIP_FLAGS, ...targetFlags(arch), "-d", partial, "-r", REQUIREMENTS_FILE], opts,
      (status, tail) => new ImageError("image-build", `pip download of the image's wheels failed (${status}, with ${python})`,
        /No module named pip/.test(tail.join("\n")) ? "run `npx lem setup` (lem's venv has pip), or install pip for that Python"
          : "fix what pip's last lines name, then run the build again", tail.join("\n")));
    renameSync(partial, dir);
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    if (error instanceof ImageError) throw error;
    const e = error as ImageError;
    throw new ImageError(e.exitCode === 130 ? "interrupted" : "image-build", e.message, e.fix ?? "run the build again");
  }
  return dir;
}

/**
 * A build context of the files docker would send from `context` (its .dockerignore applied) plus
 * `wheels/`: the legacy builder takes one folder and follows no link out of it, so the wheels are
 * hard links (copies across filesystems) beside a copy of the harness. The caller removes it.
 */
export function assembleContext(context: string, wheels: string): string {
  const dir = mkdtempSync(join(tmpdir(), "lem-image-context-"));
  for (const rel of contextFiles(context)) {
    const from = join(context, rel);
    const to = join(dir, rel);
    mkdirSync(dirname(to), { recursive: true });
    if (lstatSync(from).isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else copyFileSync(from, to);
  }
  mkdirSync(join(dir, "wheels"), { recursive: true });
  for (const name of readdirSync(wheels)) {
    try {
      linkSync(join(wheels, name), join(dir, "wheels", name));
    } catch {
      copyFileSync(join(wheels, name), join(dir, "wheels", name));
    }
  }
  return dir;
}
