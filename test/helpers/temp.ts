import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];

/** A fresh folder outside the repo; removed when the test file ends. */
export function tempDir(prefix = "lem-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

process.on("exit", () => { for (const dir of made) rmSync(dir, { recursive: true, force: true }); });
