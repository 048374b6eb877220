// Start-up ratios against bare Node, measured side by side (issue 6, section 4):
// `lem --version` and `lem --help` ≤ 1.5× `node -e 0`; `lem status` on the example ≤ 3×.
// Usage: bench/startup [rounds]  (default 21 rounds, interleaved; medians)
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { interleaved, median, ms, type Command } from "./timing.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LEM = join(ROOT, "bin", "lem.js");
const rounds = Number(process.argv[2] ?? 21);

// The example lemfile in a folder of its own: an empty store, and "llenergymeasure" resolved to lem.
const project = mkdtempSync(join(tmpdir(), "lem-bench-startup-"));
copyFileSync(join(ROOT, "lemfile.ts"), join(project, "lemfile.ts"));
const cache = join(project, ".cache");
const coldCache = join(project, ".cold-cache");
const env = { ...process.env, LEM_CACHE_DIR: cache };
const node = process.execPath;

const commands: Command[] = [
  { label: "node -e 0", argv: [node, "-e", "0"] },
  { label: "lem --version", argv: [node, LEM, "--version"] },
  { label: "lem --help", argv: [node, LEM, "--help"] },
  { label: "lem status", argv: [node, LEM, "status"], options: { cwd: project, env } },
  { label: "lem status --json", argv: [node, LEM, "status", "--json"], options: { cwd: project, env } },
  // The first run after the lemfile changed: esbuild compiles it again (not a target, for the record).
  { label: "lem status (lemfile just edited)", argv: [node, LEM, "status"], options: { cwd: project, env: { ...env, LEM_CACHE_DIR: coldCache } },
    before: () => rmSync(coldCache, { recursive: true, force: true }) },
];

const TARGETS: Record<string, number> = { "lem --version": 1.5, "lem --help": 1.5, "lem status": 3 };

const times = interleaved(commands, rounds, 2);
const base = median(times.get("node -e 0")!);
console.log(`bench/startup: ${rounds} interleaved rounds, medians (node ${process.version}, ${new Date().toISOString().slice(0, 10)})\n`);
console.log("| command | median | × node -e 0 | target |");
console.log("| --- | --- | --- | --- |");
let missed = 0;
for (const { label } of commands) {
  const m = median(times.get(label)!);
  const ratio = m / base;
  const target = TARGETS[label];
  const verdict = target === undefined ? "" : `≤ ${target}× ${ratio <= target ? "met" : "MISSED"}`;
  if (target !== undefined && ratio > target) missed++;
  console.log(`| ${label} | ${ms(m)} | ${label === "node -e 0" ? "1.00" : ratio.toFixed(2)} | ${verdict} |`);
}
rmSync(project, { recursive: true, force: true });
process.exitCode = missed ? 1 : 0;
