// lem as another project uses it: `npm pack` (what `npm publish` would upload), installed from the
// tarball into an empty project, a lemfile that imports "llenergymeasure", and `npx lem` there.
// Uses dist/ as built (npm test builds it first). Dependencies come from npm's cache (--offline);
// where the cache lacks one, npm may fetch it (--prefer-offline), and with no registry at all the
// install steps skip loudly (under CI=true they fail).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./helpers/temp.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const TSC = join(ROOT, "node_modules", ".bin", "tsc");

/** The environment for npm in another folder: npm_* variables of an enclosing `npm test` (its prefix, package, lifecycle) would point npm back at this repo. */
const npmEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) =>
  !/^npm_/i.test(k) || (/^npm_config_/i.test(k) && !/^npm_config_(local_prefix|prefix|global|workspaces?|include_workspace_root)$/i.test(k))));
delete npmEnv.INIT_CWD;

const run = (cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...npmEnv, CI: "true", ...env }, timeout: 180_000 });

const work = tempDir("lem-package-");
const pack = run(NPM, ["pack", "--ignore-scripts", "--json", "--pack-destination", work], ROOT);
const packed = pack.status === 0 ? (JSON.parse(pack.stdout) as { filename: string; files: { path: string }[]; size: number }[])[0] : undefined;
const files = new Set(packed?.files.map((f) => f.path) ?? []);

test("npm pack: the tarball holds what a user needs (bin, dist with types, schemas, the harness, Docker files) and no tests or sources", () => {
  assert.is(pack.status, 0, pack.stderr);
  assert.ok(existsSync(join(ROOT, "dist", "cli", "main.js")), "dist/ is built (npm run build)");
  for (const path of ["package.json", "README.md", "bin/lem.js", "dist/index.js", "dist/index.d.ts", "dist/cli/main.js",
    "schemas/experiment.schema.json", "schemas/result.schema.json", "schemas/user-config.schema.json",
    "docker/PROTOCOL.md", "docker/compose.yaml", "docker/Dockerfile.pytorch", "docker/build-base.sh", "docker/.dockerignore",
    "docker/harness/requirements.txt", "docker/harness/lem_harness/__main__.py", "docker/harness/lem_harness/protocol.py"]) {
    assert.ok(files.has(path), `${path} is in the tarball`);
  }
  const unwanted = [...files].filter((p) => /^(test|src|bench|scripts|examples|\.ci)\//.test(p) || /(^|\/)tests\/|__pycache__|\.pyc$|\.test\.(ts|js)$|\.tsbuildinfo$/.test(p));
  assert.equal(unwanted, [], "no tests, sources, benchmarks or caches");
  assert.ok(packed!.size < 2_000_000, `the tarball is small (${packed!.size} bytes)`);
});

/** An empty project with the tarball installed, or why not (`skip`: the registry is out of reach). */
function install(): { dir: string } | { skip: string } | { error: string } {
  const dir = join(work, "project");
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "my-measurements", private: true, type: "module" }, null, 2));
  const tgz = join(work, packed!.filename);
  const flags = ["--no-audit", "--no-fund", "--no-package-lock"];
  let r = run(NPM, ["install", "--offline", ...flags, tgz], dir);
  if (r.status !== 0 && /ENOTCACHED/.test(r.stderr)) r = run(NPM, ["install", "--prefer-offline", ...flags, tgz], dir);
  if (r.status === 0) return { dir };
  const why = r.stderr.split("\n").filter((l) => /npm (error|ERR!)/.test(l)).slice(0, 3).join("; ") || String(r.error ?? `exit ${r.status}`);
  return /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|ECONNRESET|ENOTCACHED/.test(r.stderr) ? { skip: why } : { error: `npm install failed: ${why}\n${r.stderr.slice(-2000)}` };
}

const installed = packed ? install() : { error: "npm pack failed" };
let installTest: typeof test | typeof test.skip = test;
if ("skip" in installed) {
  if (process.env.CI === "true") throw new Error(`test/package.e2e.test.ts: the tarball's dependencies are neither in npm's cache nor reachable (${installed.skip}), and CI=true`);
  console.warn(`\n!! SKIPPING the install tests of test/package.e2e.test.ts: npm cannot get the dependencies (${installed.skip})\n`);
  installTest = test.skip;
}
const project = "dir" in installed ? installed.dir : "";

const LEMFILE = `import { defineLemfile, sweep } from "llenergymeasure";

export default defineLemfile({
  defaults: { model: "synthetic:tiny", backend: "pytorch", n: 2, max_output_tokens: 4 },
  experiments: [{ name: "tiny", n: 3 }, ...sweep("bs", { "pytorch.batch_size": [1, 2] })],
  runners: { pytorch: "local" },
});
`;

installTest("installed from the tarball: bin, main and types resolve in the new project", () => {
  assert.ok(!("error" in installed), "error" in installed ? installed.error : "");
  const pkg = join(project, "node_modules", "llenergymeasure");
  assert.ok(existsSync(join(project, "node_modules", ".bin", "lem")), "package.json bin links lem");
  assert.ok(!existsSync(join(pkg, "src")) && !existsSync(join(pkg, "test")), "no sources or tests installed");
  const api = run(process.execPath, ["--input-type=module", "-e", `import("llenergymeasure").then((m) => console.log(typeof m.defineLemfile, typeof m.sweep))`], project);
  assert.is(api.stdout.trim(), "function function", api.stderr);
  writeFileSync(join(project, "lemfile.ts"), LEMFILE);
  // `types`: the lemfile type-checks against the installed declarations (an unknown field would not).
  const types = run(process.execPath, [TSC, "--noEmit", "--strict", "--skipLibCheck", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "lemfile.ts"], project);
  assert.is(types.status, 0, types.stdout + types.stderr);
  writeFileSync(join(project, "typo.ts"), LEMFILE.replace('n: 2,', 'n: 2, max_ouput_tokens: 4,'));
  const typo = run(process.execPath, [TSC, "--noEmit", "--strict", "--skipLibCheck", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "typo.ts"], project);
  assert.is.not(typo.status, 0, "a typo'd field is a type error in the user's editor");
  assert.match(typo.stdout, /max_ouput_tokens/);
});

installTest("npx lem build --dry-run in the new project lists the lemfile's nodes; nothing is measured", () => {
  assert.ok(!("error" in installed), "error" in installed ? installed.error : "");
  writeFileSync(join(project, "lemfile.ts"), LEMFILE);
  const cache = join(work, "cache");
  const dry = run(NPM, ["exec", "--no", "--", "lem", "build", "--dry-run"], project, { LEM_CACHE_DIR: cache });
  assert.is(dry.status, 0, dry.stdout + dry.stderr);
  for (const name of ["tiny", "bs-1", "bs-2"]) assert.match(dry.stdout, new RegExp(`\\b${name}\\b`), `${name} is listed:\n${dry.stdout}`);
  const json = run(NPM, ["exec", "--no", "--", "lem", "build", "--dry-run", "--json"], project, { LEM_CACHE_DIR: cache });
  assert.is(json.status, 0, json.stderr);
  const { nodes } = JSON.parse(json.stdout) as { nodes: { name: string; state: string; hash: string }[] };
  assert.equal(nodes.map((n) => [n.name, n.state]).sort(), [["bs-1", "pending"], ["bs-2", "pending"], ["tiny", "pending"]]);
  assert.ok(nodes.every((n) => /^[0-9a-f]{16}$/.test(n.hash)));
  assert.not.ok(existsSync(join(project, "results", nodes[0].hash)), "a dry run measures nothing");
  const version = run(NPM, ["exec", "--no", "--", "lem", "--version"], project);
  assert.match(version.stdout, /0\.1\.0/, version.stderr);
});

test.run();
