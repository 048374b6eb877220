import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { lemCacheDir } from "../paths.js";
import { dirname, extname, join } from "node:path";
import { isBuiltin } from "node:module";
import { pathToFileURL } from "node:url";
import type { Message, Plugin } from "esbuild";

/** Raised when esbuild cannot read the lemfile (a syntax error, an import it cannot find). */
export class BundleError extends Error {
  constructor(readonly messages: Message[]) {
    super(messages[0]?.text ?? "esbuild failed");
  }
}

/** The lemfile has no module syntax at all (empty, or only comments and statements): no default export. */
export class NoExports extends Error {}

/**
 * A lemfile compiled to one file. `script`: a CommonJS body lem runs on its own thread under a vm
 * time limit (no worker to start: ~40 ms less CPU); `module`: an ES module for a worker, for a
 * lemfile that needs one (a top-level await, or an import of a package, which may be ESM-only).
 */
export interface Bundle {
  mode: "script" | "module";
  path: string;
  url: string;
  cleanup(): void;
}

/**
 * Bundles a lemfile, its relative imports and lem's own API (`llenergymeasure`, so it resolves
 * from any folder) into one JavaScript file that needs no TypeScript loader. Packages
 * stay external, resolved from the lemfile's folder. The result is cached by the content of every
 * input, so only the first load after an edit pays for esbuild (~100 ms here).
 */
export async function bundleLemfile(file: string, ownEntry: string, checker: string): Promise<Bundle> {
  const cache = cacheDir();
  const key = sha256(JSON.stringify([BUNDLE_FORMAT, file, ownEntry, checker])).slice(0, 24);
  const manifestPath = join(cache, `${key}.json`);
  const hit = cachedBundle(manifestPath, cache);
  if (hit) return { ...hit, url: pathToFileURL(hit.path).href, cleanup() {} };

  const { code, inputs, mode } = await compile(file, ownEntry, checker);
  const name = `${sha256(code).slice(0, 24)}.${mode === "module" ? "mjs" : "cjs"}`;
  try {
    mkdirSync(cache, { recursive: true });
    prune(cache);
    const path = join(cache, name);
    writeAtomically(path, code);
    writeAtomically(manifestPath, JSON.stringify({ bundle: name, mode, inputs }));
    return { mode, path, url: pathToFileURL(path).href, cleanup() {} };
  } catch {
    // No writable cache (read-only home, full disk): a private temp file for this run only.
    const dir = mkdtempSync(join(tmpdir(), "lem-lemfile-"));
    const path = join(dir, name);
    writeFileSync(path, code);
    return { mode, path, url: pathToFileURL(path).href, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }
}

/** Raised whenever what a bundle contains or how it is made changes, so old cache entries are ignored. */
const BUNDLE_FORMAT = 3;

const cacheDir = () => join(lemCacheDir(), "lemfiles");

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** The cached bundle when every input still has the content it was built from. */
function cachedBundle(manifestPath: string, cache: string): { path: string; mode: Bundle["mode"] } | undefined {
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { bundle: string; mode: Bundle["mode"]; inputs: Record<string, string> };
    for (const [path, digest] of Object.entries(manifest.inputs)) {
      if (sha256(readFileSync(path)) !== digest) return undefined;
    }
    const path = join(cache, manifest.bundle);
    // Touched, so pruning by another lem (oldest first) leaves what is in use.
    const now = new Date();
    utimesSync(path, now, now);
    utimesSync(manifestPath, now, now);
    return { path, mode: manifest.mode };
  } catch {
    return undefined;
  }
}

/** Beyond this many files (two per lemfile), the least recently written half is removed. */
const CACHE_FILES = 512;

function prune(cache: string) {
  const files = readdirSync(cache);
  if (files.length < CACHE_FILES) return;
  const aged = files.map((name) => ({ name, mtime: statSync(join(cache, name), { throwIfNoEntry: false })?.mtimeMs ?? 0 }));
  aged.sort((a, b) => a.mtime - b.mtime);
  for (const { name } of aged.slice(0, aged.length / 2)) rmSync(join(cache, name), { force: true });
}

function writeAtomically(path: string, text: string) {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, text);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

type Compiled = { code: string; inputs: Record<string, string>; mode: Bundle["mode"] };

/** A script when the lemfile allows one, else a module. */
async function compile(file: string, ownEntry: string, checker: string): Promise<Compiled> {
  const asScript = await build(file, ownEntry, checker, "script");
  return asScript ?? (await build(file, ownEntry, checker, "module"))!;
}

/** esbuild's bundle in one mode; undefined when a script cannot hold this lemfile. */
async function build(file: string, ownEntry: string, checker: string, mode: Bundle["mode"]): Promise<Compiled | undefined> {
  const esbuild = await import("esbuild");
  // The entry re-exports the lemfile's module and the JSON check run on it.
  const entry = `export * as lemfile from ${JSON.stringify(file)};\nexport { nonJsonValues } from ${JSON.stringify(checker)};\n`;
  const packages: string[] = [];
  let result;
  try {
    result = await esbuild.build({
      stdin: { contents: entry, resolveDir: dirname(file), sourcefile: ENTRY_NAME, loader: "js" },
      bundle: true,
      write: false,
      format: mode === "module" ? "esm" : "cjs",
      platform: "node",
      target: "node20",
      sourcemap: "inline",
      sourceRoot: "/", // sources are relative to absWorkingDir: stack traces name the user's files
      metafile: true,
      logLevel: "silent",
      absWorkingDir: "/",
      plugins: [ownImports(ownEntry, packages)],
    });
  } catch (error) {
    const messages = (error as { errors?: Message[] }).errors ?? [];
    if (mode === "script" && messages.some((m) => /top-level await/i.test(m.text))) return undefined;
    if (messages.length) throw new BundleError(messages);
    throw error;
  }
  // Without import or export esbuild takes the file for CommonJS and its "default" for {}.
  if (!result.metafile.inputs[file.slice(1)]?.format) throw new NoExports();
  // A missing export used through a namespace (lem.sweeep(...)) is only a warning to esbuild.
  const missing = result.warnings.filter((w) => MISSING_EXPORT.test(w.text));
  if (missing.length) throw new BundleError(missing);
  if (mode === "script" && packages.length > 0) return undefined;
  const inputs: Record<string, string> = {};
  for (const input of Object.keys(result.metafile.inputs)) {
    if (input.endsWith(ENTRY_NAME)) continue; // the stdin entry: made from the key's own fields
    const path = `/${input}`;
    inputs[path] = sha256(readFileSync(path));
  }
  return { code: result.outputFiles[0].text, inputs, mode };
}

const ENTRY_NAME = "<lem-entry>";
/** esbuild's words for an import of a name the module does not export (error, then warning). */
export const MISSING_EXPORT = /No matching export in "([^"]+)" for import "([^"]+)"|Import "([^"]+)" will always be undefined because there is no matching export in "([^"]+)"/;
const SOURCE = /\.[cm]?[jt]sx?$/;

/**
 * `llenergymeasure` is lem itself; other packages stay external as absolute URLs (the bundle lives
 * in a cache folder, not beside the lemfile); each file keeps its own `import.meta.url`.
 */
function ownImports(ownEntry: string, packages: string[]): Plugin {
  return {
    name: "lem-lemfile",
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.path === "llenergymeasure") return { path: ownEntry };
        if (isBuiltin(args.path) || args.pluginData === "lem-resolving") return undefined;
        const found = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: "lem-resolving" });
        if (found.errors.length) return { errors: found.errors };
        packages.push(args.path);
        return { path: pathToFileURL(found.path).href, external: true };
      });
      build.onLoad({ filter: SOURCE }, async (args) => {
        const source = readFileSync(args.path, "utf8");
        const ext = extname(args.path);
        const loader = /^\.[cm]?tsx?$/.test(ext) ? (ext.endsWith("x") ? "tsx" : "ts") : ext.endsWith("x") ? "jsx" : "js";
        if (!source.includes("import.meta")) return { contents: source, loader };
        const url = pathToFileURL(args.path).href;
        const { code } = await build.esbuild.transform(source, {
          loader, format: "esm", target: "node20", sourcemap: "inline", sourcefile: args.path,
          define: {
            "import.meta.url": JSON.stringify(url),
            "import.meta.filename": JSON.stringify(args.path),
            "import.meta.dirname": JSON.stringify(dirname(args.path)),
          },
        });
        return { contents: code, loader: "js" };
      });
    },
  };
}
