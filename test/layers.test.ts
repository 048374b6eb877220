// The layers follow the data flow, and no import runs back up: a folder imports only from folders
// below it in LAYERS (and from itself), and no file imports itself through others. The harness's
// Python modules have no import circles either.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");
const HARNESS = join(ROOT, "docker", "harness", "lem_harness");

/** Bottom to top. "." is the base files of src/ (paths, errors); "api" is src/index.ts, the lemfile's import. */
export const LAYERS = [".", "lemfile", "config", "graph", "store", "exec", "project", "report", "compare", "views", "cli", "api"] as const;

const walk = (dir: string, ext: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? (e.name === "__pycache__" ? [] : walk(join(dir, e.name), ext)) : e.name.endsWith(ext) ? [join(dir, e.name)] : []);

function layerOf(file: string): string {
  const rel = relative(SRC, file);
  if (rel === "index.ts") return "api";
  return rel.includes(sep) ? rel.split(sep)[0] : ".";
}

/** Every relative import of a TypeScript file (static, type-only, re-export and dynamic), as .ts paths. */
function tsImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)["'](\.{1,2}\/[^"']+)["']/gm)].map((m) => m[1]);
  return specs.map((s) => normalize(join(dirname(file), s)).replace(/\.js$/, ".ts"));
}

/** File-level import circles (Tarjan's strongly connected components of more than one file, or a self-import). */
function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>(), found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next); low.set(v, next); next += 1; stack.push(v); on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); component.push(w); } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

const tsGraph = new Map(walk(SRC, ".ts").map((f) => [f, tsImports(f)]));

test("the layer list names every folder of src/", () => {
  const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  assert.ok(folders.length >= 8, `src/ has folders (${folders.join(", ")})`);
  for (const folder of folders) assert.ok((LAYERS as readonly string[]).includes(folder), `src/${folder} is in LAYERS`);
});

test("no import in src/ runs back up the layers", () => {
  let checked = 0;
  const back: string[] = [];
  for (const [file, imports] of tsGraph) {
    const from = LAYERS.indexOf(layerOf(file) as (typeof LAYERS)[number]);
    for (const target of imports) {
      assert.ok(tsGraph.has(target), `${relative(ROOT, file)} imports ${relative(ROOT, target)}, which exists`);
      checked += 1;
      const to = LAYERS.indexOf(layerOf(target) as (typeof LAYERS)[number]);
      if (to > from) back.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
    }
  }
  assert.ok(checked > 200, `the scan found the imports (${checked})`);
  assert.equal(back, [], `imports that run back up:\n  ${back.join("\n  ")}`);
});

test("no import circles in src/", () => {
  assert.equal(circles(tsGraph).map((c) => c.map((f) => relative(SRC, f))), []);
});

test("the harness's Python modules import each other without circles", () => {
  const files = walk(HARNESS, ".py");
  const moduleOf = (file: string) => relative(HARNESS, file).replace(/\.py$/, "").replace(/\/__init__$/, "").split(sep).join(".").replace(/^__init__$/, "");
  const modules = new Set(files.map(moduleOf));
  const graph = new Map<string, string[]>();
  let edges = 0;
  for (const file of files) {
    const mod = moduleOf(file);
    const pkg = file.endsWith("__init__.py") ? mod.split(".").filter(Boolean) : mod.split(".").slice(0, -1);
    const targets: string[] = [];
    for (const m of readFileSync(file, "utf8").matchAll(/^\s*from\s+(\.+)([\w.]*)\s+import\s+([\w, ]+)/gm)) {
      const base = pkg.slice(0, pkg.length - (m[1].length - 1));
      const name = [...base, ...(m[2] ? m[2].split(".") : [])].join(".");
      // `from . import x` or `from .pkg import sub` may name a submodule.
      const subs = m[3].split(",").map((s) => s.trim().split(/\s+/)[0]).map((s) => [name, s].filter(Boolean).join("."));
      for (const t of [name, ...subs]) if (modules.has(t) && t !== mod) { targets.push(t); edges += 1; }
    }
    graph.set(mod, targets);
  }
  assert.ok(edges > 20, `the scan found the harness's imports (${edges})`);
  assert.equal(circles(graph), []);
});

test.run();
