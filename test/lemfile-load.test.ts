// The lemfile loader as a user meets it: through `lem`, with lemfiles that print, never finish,
// export the wrong thing, import other files, or change between runs (the compiled bundle is cached).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { TempProject } from "./helpers/project.js";
import { tempDir } from "./helpers/temp.js";

const STACK = /^\s+at .+:\d+:\d+\)?$/m;
const cache = tempDir("lem-cache-");
const EXPERIMENT = `{ name: "a", model: "synthetic:tiny", n: 2 }`;

function project(source: string, env: NodeJS.ProcessEnv = {}) {
  const p = new TempProject("{ experiments: [] }", { LEM_CACHE_DIR: cache, ...env });
  p.writeRaw(source);
  return p;
}

async function expectInputError(p: TempProject, args: string[], ...patterns: RegExp[]) {
  const r = await p.run(...args);
  assert.is(r.code, 2, `exit code, stderr:\n${r.stderr}`);
  assert.match(r.stderr, /lemfile\.ts/, "the message names the lemfile");
  for (const pattern of patterns) assert.match(r.stderr, pattern);
  assert.not.match(r.stderr, STACK, "no stack trace for a user mistake");
  return r;
}

test("what a lemfile prints goes to stderr, so --json stdout stays one JSON document", async () => {
  const p = project(`import { defineLemfile } from "llenergymeasure";
console.log("hello from console.log");
process.stdout.write("hello from stdout.write\\n");
console.info("hello from console.info");
export default defineLemfile({ experiments: [${EXPERIMENT}] });
`);
  const r = await p.run("status", "--json");
  assert.is(r.code, 0, r.stderr);
  const parsed = JSON.parse(r.stdout) as { nodes: { name: string }[] };
  assert.equal(parsed.nodes.map((n) => n.name), ["a"]);
  for (const line of ["hello from console.log", "hello from stdout.write", "hello from console.info"]) assert.match(r.stderr, line);
});

test("a lemfile stuck in an endless loop is cut at the load time limit, naming the file", async () => {
  const p = project(`while (true) {}\nexport default {};\n`, { LEM_LOAD_TIMEOUT_SECONDS: "1" });
  const t0 = performance.now();
  await expectInputError(p, ["status"], /did not finish loading within 1 s/, /endless loop/, /LEM_LOAD_TIMEOUT_SECONDS/);
  assert.ok(performance.now() - t0 < 20_000, "ended by the limit, not by the test's own timeout");
});

test("a top-level await that waits on a timer forever is cut at the limit too", async () => {
  const p = project(`await new Promise((resolve) => setInterval(() => {}, 1000));\nexport default {};\n`, { LEM_LOAD_TIMEOUT_SECONDS: "1" });
  await expectInputError(p, ["build", "--dry-run"], /did not finish loading within 1 s/);
});

test("a top-level await that can never settle is reported at once", async () => {
  const p = project(`await new Promise(() => {});\nexport default {};\n`);
  await expectInputError(p, ["status"], /never finished loading: a top-level await never settled/);
});

test("a bad LEM_LOAD_TIMEOUT_SECONDS names the variable", async () => {
  const p = project(`export default { experiments: [] };\n`, { LEM_LOAD_TIMEOUT_SECONDS: "soon" });
  const r = await p.run("status");
  assert.is(r.code, 2);
  assert.match(r.stderr, /LEM_LOAD_TIMEOUT_SECONDS: expected a number of seconds > 0, got "soon"/);
});

test("a default export that is a function says to export the object", async () => {
  const p = project(`import { defineLemfile } from "llenergymeasure";\nexport default () => defineLemfile({ experiments: [] });\n`);
  await expectInputError(p, ["status"], /the default export is a function/, /export default defineLemfile\(\{ \.\.\. \}\)/);
});

test("values JSON cannot carry are each named by their field", async () => {
  const p = project(`export default { experiments: [
  { name: "a", model: "synthetic:tiny", n: NaN, max_output_tokens: Infinity },
  { name: "b", model: "synthetic:tiny", random_seed: 3n, decoder: { temperature: () => 0 } },
] };\n`);
  await expectInputError(p, ["build", "--json"],
    /experiments\[0\]\.n: NaN/, /experiments\[0\]\.max_output_tokens: Infinity/,
    /experiments\[1\]\.random_seed: a bigint \(3n\)/, /experiments\[1\]\.decoder\.temperature: a function/);
});

test("an error lem's own API throws keeps its message and fix (not 'threw while loading')", async () => {
  const p = project(`import { defineLemfile, sweep } from "llenergymeasure";
export default defineLemfile({ experiments: sweep("bs", { "pytorch.batch_size": [] }) });
`);
  const r = await expectInputError(p, ["status"], /pytorch\.batch_size/);
  assert.not.match(r.stderr, /threw while loading/);
  assert.match(r.stderr, /fix: /);
});

test("an error the lemfile throws names its line", async () => {
  const p = project(`import { defineLemfile } from "llenergymeasure";\n\nthrow new Error("no GPU list here");\nexport default defineLemfile({ experiments: [] });\n`);
  await expectInputError(p, ["status"], /threw while loading: no GPU list here/, /lemfile\.ts:3:\d+/);
});

test("a syntax error gives the file, line and column", async () => {
  const p = project(`import { defineLemfile } from "llenergymeasure";\nexport default defineLemfile({ experiments: [ });\n`);
  await expectInputError(p, ["status"], /syntax error: .+ at .*lemfile\.ts:2:\d+/);
});

test("an import that does not resolve is named", async () => {
  const p = project(`import { models } from "./models.ts";\nexport default { experiments: models };\n`);
  await expectInputError(p, ["status"], /Could not resolve "\.\/models\.ts"/);
});

test("process.exit in a lemfile is an input error, not lem's exit", async () => {
  const p = project(`process.exit(7);\nexport default {};\n`);
  await expectInputError(p, ["status"], /called process\.exit\(7\)/);
});

test("relative .ts imports, top-level await and import.meta.url work without package.json", async () => {
  const p = project(`import { defineLemfile } from "llenergymeasure";
import { models } from "./lib/models.ts";
import { readFileSync } from "node:fs";
const n: number = await Promise.resolve(JSON.parse(readFileSync(new URL("./n.json", import.meta.url), "utf8")).n);
export default defineLemfile({ experiments: models.map((model, i) => ({ name: "m" + i, model, n })) });
`);
  mkdirSync(join(p.dir, "lib"));
  writeFileSync(join(p.dir, "lib", "models.ts"), `export const models: string[] = ["synthetic:tiny", "synthetic:small"];\n`);
  writeFileSync(join(p.dir, "n.json"), `{ "n": 3 }`);
  assert.equal(readdirSync(p.dir).includes("package.json"), false);
  const first = await p.json<{ nodes: { name: string }[] }>("status");
  assert.equal(first.nodes.map((n) => n.name).sort(), ["m0", "m1"]);

  // A second run is served from the cache; an edit to the imported file must still be seen.
  writeFileSync(join(p.dir, "lib", "models.ts"), `export const models: string[] = ["synthetic:tiny", "synthetic:small", "synthetic:1b"];\n`);
  const edited = await p.json<{ nodes: { name: string }[] }>("status");
  assert.equal(edited.nodes.map((n) => n.name).sort(), ["m0", "m1", "m2"]);
});

test("a package installed beside the lemfile (ESM-only) is imported from there", async () => {
  const p = project(`import { defineLemfile } from "llenergymeasure";
import { seeds } from "seed-list";
export default defineLemfile({ experiments: seeds.map((s: number) => ({ name: "s" + s, model: "synthetic:tiny", random_seed: s })) });
`);
  const pkg = join(p.dir, "node_modules", "seed-list");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "seed-list", type: "module", exports: { import: "./index.js" } }));
  writeFileSync(join(pkg, "index.js"), "export const seeds = [1, 2, 3];\n");
  const r = await p.json<{ nodes: { name: string }[] }>("status");
  assert.equal([...new Set(r.nodes.map((n) => n.name))].sort(), ["s1", "s2", "s3"]);
});

test("an unwritable cache folder only costs the cache", async () => {
  const blocker = join(tempDir(), "not-a-folder");
  writeFileSync(blocker, "");
  const p = project(`export default { experiments: [${EXPERIMENT}] };\n`, { LEM_CACHE_DIR: blocker });
  const r = await p.json<{ nodes: unknown[] }>("status");
  assert.is(r.nodes.length, 1);
});

test("a flag error is reported without waiting for a lemfile that never loads, and --help does not run it", async () => {
  const p = project(`console.log("lemfile ran");\nwhile (true) {}\nexport default {};\n`, { LEM_LOAD_TIMEOUT_SECONDS: "60" });
  const t0 = performance.now();
  const bad = await p.run("build", "--jobs", "0");
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--jobs/);
  assert.ok(performance.now() - t0 < 30_000, "lem did not wait for the load time limit");
  const help = await p.run("status", "--help");
  assert.is(help.code, 0);
  assert.not.match(help.stderr + help.stdout, /lemfile ran/);
});

test.run();
