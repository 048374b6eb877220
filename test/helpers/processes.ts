import { readdirSync, readFileSync } from "node:fs";

/** A process's state letter is Z (zombie) or X (dead): it runs nothing any more. */
const finished = (stat: string) => /^[ZX]$/.test(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]);

/** Live (non-zombie) processes whose command line holds `text`, this one aside. */
export function processesWith(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)) {
    try {
      if (finished(readFileSync(`/proc/${pid}/stat`, "utf8"))) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(text)) found.push(`${pid}: ${cmdline}`);
    } catch { /* gone */ }
  }
  return found;
}

/** The process runs (a zombie does not). */
export function alive(pid: number): boolean {
  try { return !finished(readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return false; }
}
