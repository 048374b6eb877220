import { test } from "uvu";
import * as assert from "uvu/assert";
import { TempProject, lem } from "./helpers/project.js";
import { tempDir } from "./helpers/temp.js";

const STACK = /^\s+at .+:\d+:\d+\)?$/m;

async function expectInputError(source: string, ...patterns: RegExp[]) {
  const project = new TempProject("{ experiments: [] }");
  project.writeRaw(source);
  const r = await project.run("build");
  assert.is(r.code, 2, `exit code for:\n${source}\n${r.stderr}`);
  assert.match(r.stderr, /lemfile\.ts/);
  for (const p of patterns) assert.match(r.stderr, p);
  assert.not.match(r.stderr, STACK, "no stack trace for a user mistake");
  assert.is(project.resultFiles().length, 0);
}

const lemfile = (experiment: string) =>
  `import { defineLemfile } from "llenergymeasure";\nexport default defineLemfile({ experiments: [${experiment}] } as any);\n`;

test("an unknown field names the experiment and field", () =>
  expectInputError(lemfile(`{ name: "a", model: "synthetic:tiny", pytorch: { batch: 2 } }`), /experiment "a": pytorch\.batch: unknown field/));

test("a wrong type says what was expected", () =>
  expectInputError(lemfile(`{ name: "a", model: "synthetic:tiny", n: "eight" }`), /experiment "a": n: expected integer, got "eight"/));

test("a bad enum lists the allowed values", () =>
  expectInputError(lemfile(`{ name: "a", model: "synthetic:tiny", precision: "fp8" }`), /precision: expected one of "fp32", "fp16", "bf16", got "fp8"/));

test("a backend section that does not match backend is an error", () =>
  expectInputError(lemfile(`{ name: "a", model: "synthetic:tiny", backend: "pytorch", vllm: {} }`), /vllm: a "vllm" section does not match backend "pytorch"/));

test("a syntax error is reported as one", () =>
  expectInputError(`import { defineLemfile } from "llenergymeasure";\nexport default defineLemfile({ experiments: [ }`, /syntax error/));

test("a lemfile that throws says so and where", () =>
  expectInputError(`throw new Error("no GPU list here");\nexport default {};`, /threw while loading: no GPU list here/));

test("a lemfile without a default export says how to add one", () =>
  expectInputError(`export const x = 1;`, /no default export/, /export default defineLemfile/));

test("an unknown top-level key in the lemfile is an error", () =>
  expectInputError(lemfile(`{ name: "a", model: "m" }], cycles: [3`), /cycles: unknown field/));

test("a missing lemfile and an unknown flag exit 2", async () => {
  const dir = tempDir();
  const missing = await lem(dir, ["status"]);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /no lemfile here/);
  const flag = await lem(dir, ["build", "--frobnicate"]);
  assert.is(flag.code, 2);
  assert.match(flag.stderr, /Unknown option '--frobnicate'/);
  const command = await lem(dir, ["bulid"]);
  assert.is(command.code, 2);
});

test("--version and --help answer", async () => {
  const dir = tempDir();
  assert.match((await lem(dir, ["--version"])).stdout, /^\d+\.\d+\.\d+/);
  const help = await lem(dir, ["--help"]);
  assert.is(help.code, 0);
  for (const cmd of ["build", "status", "show", "clean", "doctor"]) assert.match(help.stdout, new RegExp(`\\b${cmd}\\b`));
});

test.run();
