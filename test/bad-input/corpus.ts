// The bad-input corpus: each case is a project (lemfile, settings, files) and a lem command line,
// with the exit code and message it must give. Every case also proves that no stack trace is
// printed and that a results folder measured before stays byte-identical.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { lem, type RunResult } from "../helpers/project.js";
import { tempDir } from "../helpers/temp.js";
import { fakeResult } from "../helpers/fixtures.js";
import { expandLemfile } from "../../src/config/expand.js";
import { buildNodes } from "../../src/graph/nodes.js";
import { HASH_VERSION } from "../../src/config/hash.js";
import { ResultStore } from "../../src/store/store.js";
import { detectHardware, hardwareFor } from "../../src/exec/hardware.js";

export const STACK = /^\s+at .+:\d+:\d+\)?$/m;

export interface Case {
  name: string;
  /** The object given to defineLemfile, as code (default: VALID_BODY). */
  body?: string;
  /** The whole lemfile.ts, where the case is about the file itself. */
  source?: string;
  /** More files in the project, by path relative to it (".lem-config.yaml", datasets). */
  files?: Record<string, string>;
  /** lem's arguments (default: status). */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  expect: {
    code: number;
    /** Must all match stderr (for code 0: may be empty). */
    stderr?: RegExp[];
    /** Must all match stdout. */
    stdout?: RegExp[];
    /** The file the message must name (default /lemfile\.ts/ for errors); null: none (a CLI flag). */
    file?: RegExp | null;
    /** Any further check of the outcome; `dir` is the project (e.g. that nothing was written there). */
    check?: (r: RunResult, dir: string) => void;
  };
}

/** A valid project: the measured store below belongs to it. Baseline off, so nothing would wait. */
const VALID = {
  defaults: { model: "synthetic:tiny", n: 2, max_output_tokens: 2, baseline: { enabled: false }, warmup: { enabled: false } },
  experiments: [{ name: "kept", precision: "fp32" }],
  execution: { cycles: 2 },
};
export const VALID_BODY = JSON.stringify(VALID);
/** VALID_BODY with `experiment` added to its experiments (code). */
export const withExperiment = (experiment: string) =>
  `{ defaults: ${JSON.stringify(VALID.defaults)}, experiments: [{ name: "kept", precision: "fp32" }, ${experiment}], execution: { cycles: 2 } }`;
/** VALID_BODY's defaults with these experiments (code) and execution. */
export const withExperiments = (experiments: string, execution = "{ cycles: 2 }") =>
  `{ defaults: ${JSON.stringify(VALID.defaults)}, experiments: ${experiments}, execution: ${execution} }`;

/** A results folder holding measured results of VALID (written through the store, as lem would). */
function seedStore(): string {
  const dir = join(tempDir("lem-bad-input-seed-"), "results");
  const store = new ResultStore(dir);
  const expanded = expandLemfile(VALID, "lemfile.ts");
  const hardware = hardwareFor(detectHardware());
  for (const node of buildNodes(expanded.experiments, expanded.execution)) {
    const withHardware = { ...node, hardware: hardware(node.config) };
    store.saveConfig(node.hash, node.names, [], node.config, HASH_VERSION);
    store.saveResult(fakeResult(withHardware));
  }
  return dir;
}

function filesUnder(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.set(path.slice(root.length), readFileSync(path, "base64"));
    }
  };
  walk(root);
  return out;
}

interface Outcome { result: RunResult; before: Map<string, string>; after: Map<string, string>; dir: string }

async function runCase(c: Case, seed: string): Promise<Outcome> {
  const dir = tempDir("lem-bad-input-");
  cpSync(seed, join(dir, "results"), { recursive: true });
  const source = c.source ?? `import { defineLemfile, sweep } from "llenergymeasure";\n\nexport default defineLemfile(${c.body ?? VALID_BODY});\n`;
  writeFileSync(join(dir, "lemfile.ts"), source);
  for (const [path, text] of Object.entries(c.files ?? {})) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const before = filesUnder(join(dir, "results"));
  const result = await lem(dir, c.args ?? ["status"], { LEM_PYTHON: "/usr/bin/python3", ...c.env });
  return { result, before, after: filesUnder(join(dir, "results")), dir };
}

// One pool for every corpus file in the process: each case is a lem process, and the machine
// has few cores.
const CONCURRENCY = 3;
let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= CONCURRENCY) await new Promise<void>((go) => waiting.push(go));
  running += 1;
  try { return await work(); } finally { running -= 1; waiting.shift()?.(); }
}
let seeded: string | undefined;

/** Runs every case, a few at a time, and asserts each in its own test. */
export function runCorpus(title: string, cases: Case[]) {
  const names = new Set<string>();
  for (const c of cases) {
    assert.ok(!names.has(c.name), `duplicate case name: ${c.name}`);
    names.add(c.name);
  }
  const seed = (seeded ??= seedStore());
  const outcomes = new Map<string, Promise<Outcome>>();
  for (const c of cases) outcomes.set(c.name, slot(() => runCase(c, seed)));

  const corpus = suite(title);
  for (const c of cases) {
    corpus(c.name, async () => {
      const { result: r, before, after, dir } = await outcomes.get(c.name)!;
      const shown = `\n--- exit ${r.code}\n--- stdout\n${r.stdout.slice(0, 2000)}\n--- stderr\n${r.stderr.slice(0, 2000)}`;
      assert.is(r.code, c.expect.code, `exit code${shown}`);
      const file = c.expect.file === undefined ? (c.expect.code === 0 ? null : /lemfile\.ts/) : c.expect.file;
      if (file) assert.match(r.stderr, file, `the message names the file${shown}`);
      for (const p of c.expect.stderr ?? []) assert.match(r.stderr, p, `stderr matches ${p}${shown}`);
      for (const p of c.expect.stdout ?? []) assert.match(r.stdout, p, `stdout matches ${p}${shown}`);
      assert.not.match(r.stderr, STACK, `no stack trace${shown}`);
      assert.not.match(r.stdout, STACK, `no stack trace${shown}`);
      assert.equal([...after.keys()].sort(), [...before.keys()].sort(), "the measured results are all still there");
      for (const [path, bytes] of before) assert.ok(after.get(path) === bytes, `${path} is byte-identical`);
      c.expect.check?.(r, dir);
    });
  }
  corpus.run();
}
