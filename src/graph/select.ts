import type { NodeSpec } from "./nodes.js";

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

/**
 * Selectors match an experiment name (glob: * and ?) or a hash prefix (4+ hex digits).
 * No selectors select everything.
 */
export function makeSelector(selectors: string[]): (node: NodeSpec) => boolean {
  if (selectors.length === 0) return () => true;
  const globs = selectors.map(globToRegExp);
  const prefixes = selectors.filter((s) => /^[0-9a-f]{4,16}$/.test(s));
  return (node) =>
    prefixes.some((p) => node.hash.startsWith(p)) || node.names.some((name) => globs.some((g) => g.test(name)));
}
