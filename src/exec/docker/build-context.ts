import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";

/**
 * The files `docker build` sends from a context folder, by the rules of its `.dockerignore`, so an
 * image's hash covers exactly what can end up in the image.
 *
 * Supported, as Docker does it: `#` comments, `!` re-includes, the last matching pattern wins, a
 * pattern that matches a folder covers everything beneath it, `*` and `?` within one path segment,
 * `**` across segments, a leading `/` is ignored. Not supported: `[...]` character classes and `\`
 * escapes (taken literally). Empty folders and file modes are not part of the listing.
 */
export interface IgnoreRule {
  negate: boolean;
  pattern: string;
  regex: RegExp;
}

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const negate = line.startsWith("!");
    if (negate) line = line.slice(1).trim();
    const pattern = posix.normalize(line).replace(/^\/+/, "").replace(/\/+$/, "");
    if (pattern === "" || pattern === ".") continue;
    rules.push({ negate, pattern, regex: globToRegex(pattern) });
  }
  return rules;
}

function globToRegex(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      // `**/` matches zero or more whole folders; a trailing `**` matches anything.
      if (glob[i + 2] === "/") { re += "(?:.*/)?"; i += 2; } else { re += ".*"; i += 1; }
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Whether `path` (posix, relative to the context) is left out: it or a parent folder matches. */
export function isIgnored(path: string, rules: IgnoreRule[]): boolean {
  const prefixes: string[] = [];
  const parts = path.split("/");
  for (let i = 1; i <= parts.length; i++) prefixes.push(parts.slice(0, i).join("/"));
  let ignored = false;
  for (const rule of rules) {
    if (prefixes.some((p) => rule.regex.test(p))) ignored = !rule.negate;
  }
  return ignored;
}

/** Context files docker would send, as sorted posix paths relative to `context`. */
export function contextFiles(context: string): string[] {
  const ignoreFile = join(context, ".dockerignore");
  const rules = existsSync(ignoreFile) ? parseDockerignore(readFileSync(ignoreFile, "utf8")) : [];
  const negations = rules.filter((r) => r.negate).map((r) => r.pattern);
  // An ignored folder is still walked when a `!` pattern might re-include something inside it.
  const mayReinclude = (dir: string) => negations.some((p) => p.startsWith(`${dir}/`) || /^[*?]/.test(p));
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(context, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      const ignored = isIgnored(path, rules);
      if (entry.isDirectory()) {
        if (!ignored || mayReinclude(path)) walk(path);
      } else if (!ignored) files.push(path);
    }
  };
  walk("");
  // Code-unit order, the same on every machine and locale.
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
