import { spawnSync } from "node:child_process";

/** A Python that has torch: LEM_PYTHON, python3 on PATH, or Debian's /usr/bin/python3. */
export function pythonWithTorch(): string | undefined {
  const candidates = [process.env.LEM_PYTHON, "python3", "/usr/bin/python3"].filter((c): c is string => Boolean(c));
  return candidates.find((py) => spawnSync(py, ["-c", "import torch"], { stdio: "ignore" }).status === 0);
}

/**
 * Tests that need a real Python with torch skip loudly where there is none; .ci/run sets
 * LEM_REQUIRE_TORCH=1 so that there they fail instead.
 */
export function requirePython(file: string): string | undefined {
  const py = pythonWithTorch();
  if (py) return py;
  if (process.env.LEM_REQUIRE_TORCH === "1") throw new Error(`${file}: no Python with torch, and LEM_REQUIRE_TORCH=1`);
  console.warn(`\n!! SKIPPING ${file}: no Python with torch found (set LEM_PYTHON)\n`);
  return undefined;
}

/**
 * A Python with torch and transformers (lem's venv, as `lem setup` makes it): tests of Hugging Face
 * models skip loudly without one; .ci/run sets LEM_REQUIRE_TRANSFORMERS=1 so that there they fail.
 */
export function requireTransformers(file: string): string | undefined {
  const py = pythonWithTorch();
  if (py && spawnSync(py, ["-c", "import transformers, tokenizers"], { stdio: "ignore" }).status === 0) return py;
  if (process.env.LEM_REQUIRE_TRANSFORMERS === "1") throw new Error(`${file}: no Python with transformers (${py ?? "no torch either"}), and LEM_REQUIRE_TRANSFORMERS=1`);
  console.warn(`\n!! SKIPPING ${file}: no Python with torch and transformers found (run \`npx lem setup --venv\`, or set LEM_PYTHON)\n`);
  return undefined;
}
