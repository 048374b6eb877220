// Untrusted artifacts given to `lem import`: links out of the folder, fields of the wrong shape,
// text made to fool a terminal or a CI log. Each case asserts the exit code, a message naming the
// file or field, no stack trace, nothing quoted from where a link points, nothing written outside
// the store, and nothing invalid stored.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { cpSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/temp.js";
import { fakeProject, okExperiments, STACK } from "../faults/helpers.js";
import { validators } from "../../src/config/schemas.js";
import { checkStoredConfig } from "../../src/store/stored-config.js";
import { hardwareId } from "../../src/store/hardware-id.js";

const BODY = okExperiments(2, 2);
/** What a link in an artifact points at: a file no refusal may quote. */
const SECRET = "ghp_SECRETTOKEN0123456789";

/** Every file and link under `root` (links by their target, never followed), with its bytes. */
function tree(root: string, skip?: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (path === skip) continue;
      if (entry.isSymbolicLink()) out.set(path, `-> ${readlinkSync(path)}`);
      else if (entry.isDirectory()) walk(path);
      else out.set(path, readFileSync(path, "base64"));
    }
  };
  walk(root);
  return out;
}

/** Stored files that are not valid: a config.json off its schema, a result off schemas/result.schema.json. */
function invalidStored(results: string): string[] {
  return [...tree(results).keys()].filter((path) => {
    if (path.endsWith("/config.json")) return typeof checkStoredConfig(JSON.parse(readFileSync(path, "utf8"))) === "string";
    if (/cycle-\d+\.json$/.test(path)) return !validators.result(JSON.parse(readFileSync(path, "utf8")));
    return false;
  });
}

let measured: Promise<{ results: string; hashes: string[]; files: string[] }> | undefined;
/** One measured store of BODY (2 configs × 2 cycles), copied for each case. */
function source() {
  return (measured ??= (async () => {
    const project = fakeProject(BODY);
    const r = await project.run("build");
    assert.is(r.code, 0, r.stdout + r.stderr);
    const results = join(project.dir, "results");
    return { results, hashes: readdirSync(results).sort(), files: project.resultFiles() };
  })());
}

interface Artifact {
  /** The results folder given to lem import. */
  dir: string;
  /** A folder beside it that links may point into (holds the secret). */
  outside: string;
  hash: string;
  /** hash/hardware/cycle-1.json of the first config. */
  file: string;
  editConfig(edit: (config: Record<string, unknown>) => void): void;
}

interface Case {
  name: string;
  make(a: Artifact): void;
  code: number;
  /** Must match stdout + stderr: the message naming the file or field. */
  says: RegExp[];
  /** Whether the first config's entry is refused whole (nothing of it stored). */
  entryRefused?: boolean;
}

async function runCase(c: Case): Promise<void> {
  const { results, hashes, files } = await source();
  const work = tempDir("lem-artifact-");
  const dir = join(work, "artifact");
  const outside = join(work, "outside");
  cpSync(results, dir, { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, "token.txt"), `${SECRET}\n`);
  const hash = hashes[0];
  const artifact: Artifact = {
    dir, outside, hash, file: join(dir, files.find((f) => f.startsWith(hash))!),
    editConfig(edit) {
      const path = join(dir, hash, "config.json");
      const config = JSON.parse(readFileSync(path, "utf8"));
      edit(config);
      writeFileSync(path, JSON.stringify(config, null, 2));
    },
  };
  c.make(artifact);
  const target = fakeProject(BODY);
  const store = join(target.dir, "results");
  const before = { work: tree(work), project: tree(target.dir) };
  const r = await target.run("import", dir);
  const shown = `\n--- exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  const text = r.stdout + r.stderr;
  assert.is(r.code, c.code, `exit code${shown}`);
  for (const p of c.says) assert.match(text, p, `names the file or field: ${p}${shown}`);
  assert.not.match(text, STACK, `no stack trace${shown}`);
  assert.not.ok(text.includes(SECRET), `nothing quoted from where a link points${shown}`);
  assert.not.ok(/\x1b/.test(text), `no escape character reaches the terminal${shown}`);
  assert.not.match(text, /^\s*::[a-z]+(\s[^:]*)?::/m, `no line reads as a GitHub workflow command${shown}`);
  assert.equal(tree(work), before.work, "the artifact and what its links point at are unchanged");
  assert.equal(tree(target.dir, store), before.project, "nothing is written in the project outside its store");
  assert.equal(invalidStored(store), [], "nothing invalid is stored");
  if (c.entryRefused) assert.not.ok(readdirSync(store).includes(hash), "nothing of the refused entry is stored");
  if (c.code === 1) assert.match(text, /[1-9]\d* refused/, `the summary counts the refusal${shown}`);
}

const link = (target: string, path: string) => { rmSync(path, { recursive: true, force: true }); symlinkSync(target, path); };
const setNames = (value: unknown) => (a: Artifact) => a.editConfig((c) => { c.names = value; });

const CASES: Case[] = [
  {
    name: "a result file that is a link to a token file is refused, naming the file and not quoting the token",
    make: (a) => link(join(a.outside, "token.txt"), a.file),
    code: 1, says: [/cycle-1\.json: unreadable \(a symbolic link; lem import does not follow links\)/],
  },
  {
    name: "a result file that is a link to a valid result outside the folder is refused, not imported",
    make: (a) => { cpSync(a.file, join(a.outside, "cycle-1.json")); link(join(a.outside, "cycle-1.json"), a.file); },
    code: 1, says: [/cycle-1\.json: unreadable \(a symbolic link/],
  },
  {
    name: "config.json that is a link to the token file: the entry is refused, naming config.json",
    make: (a) => link(join(a.outside, "token.txt"), join(a.dir, a.hash, "config.json")),
    code: 1, says: [/config\.json: config\.json unreadable \(a symbolic link/], entryRefused: true,
  },
  {
    name: "a result folder that is a link out of the artifact is refused, naming it",
    make: (a) => { cpSync(join(a.dir, a.hash), join(a.outside, "entry"), { recursive: true }); link(join(a.outside, "entry"), join(a.dir, a.hash)); },
    code: 1, says: [new RegExp(`artifact/${"[0-9a-f]{16}"}: a symbolic link; lem import does not follow links out of the folder`)], entryRefused: true,
  },
  {
    name: "a hardware folder that is a link out of the artifact is refused, naming it",
    make: (a) => { const hw = join(a.file, ".."); cpSync(hw, join(a.outside, "hw"), { recursive: true }); link(join(a.outside, "hw"), hw); },
    code: 1, says: [/cpu-[^/\s]+: a symbolic link; lem import does not follow links out of the folder/],
  },
  {
    name: "a result that is not JSON is refused without quoting it",
    make: (a) => writeFileSync(a.file, `${SECRET} is not json`),
    code: 1, says: [/cycle-1\.json: unreadable \(not valid JSON/],
  },
  {
    name: "names as a number: refused naming names, no stack trace",
    make: setNames(5), code: 1, says: [/config\.json: not a valid lem config file \(names: expected array, got 5\)/], entryRefused: true,
  },
  {
    name: "names as a string is refused, never stored as its letters",
    make: setNames("abc"), code: 1, says: [/names: expected array, got "abc"/], entryRefused: true,
  },
  {
    name: "names as an object is refused",
    make: setNames({ a: 1 }), code: 1, says: [/names: expected array/], entryRefused: true,
  },
  {
    name: "names as null is refused",
    make: setNames(null), code: 1, says: [/names: expected array, got null/], entryRefused: true,
  },
  {
    name: "a name that is not a string is refused, naming its index",
    make: setNames(["e0", 3]), code: 1, says: [/names\.1: expected string, got 3/], entryRefused: true,
  },
  {
    name: "a name holding a newline and ::error:: is refused, and no line of output starts a workflow command",
    make: setNames(["e0\n::error::injected", "\u001b[31mred"]), code: 1, says: [/names\.0: must match pattern/], entryRefused: true,
  },
  {
    name: "groups as a string is refused, naming groups",
    make: (a) => a.editConfig((c) => { c.groups = "abc"; }), code: 1, says: [/groups: expected array/], entryRefused: true,
  },
  {
    name: "updated_at that is not a date-time is refused, naming updated_at",
    make: (a) => a.editConfig((c) => { c.updated_at = "zzzz-later-than-everything"; }), code: 1, says: [/updated_at: /], entryRefused: true,
  },
  {
    name: "config.json whose hash is not its folder's is refused, naming both",
    make: (a) => a.editConfig((c) => { c.hash = "0123456789abcdef"; }), code: 1, says: [/its hash 0123456789abcdef is not its folder's [0-9a-f]{16}/], entryRefused: true,
  },
  {
    name: "an unknown field in config.json is refused, naming it",
    make: (a) => a.editConfig((c) => { c.owner = "someone"; }), code: 1, says: [/owner: unknown field/], entryRefused: true,
  },
  {
    name: "a result whose hardware holds a newline and an ANSI escape is refused, naming hardware",
    make: (a) => {
      const result = JSON.parse(readFileSync(a.file, "utf8"));
      result.hardware = "cpu:x\n::error::pwned \u001b[2J";
      const hw = join(a.dir, a.hash, hardwareId(result.hardware));
      mkdirSync(hw);
      writeFileSync(join(hw, "cycle-1.json"), JSON.stringify(result));
      rmSync(a.file);
    },
    code: 1, says: [/cycle-1\.json: invalid against schemas\/result\.schema\.json \(hardware: must match pattern/],
  },
  {
    name: "a file named with a newline, ::error:: and an ANSI escape is named on one escaped line",
    make: (a) => writeFileSync(join(a.dir, a.hash, "x\n::error::pwned\u001b[31m"), "{}"),
    code: 0, says: [/warning: ignored .*x\uFFFD::error::pwned\uFFFD\[31m: not part of a result folder/],
  },
];

for (const c of CASES) test(c.name, () => runCase(c));

test("an import of the untouched artifact stores every result (the cases above start from a good one)", async () => {
  const { results, files } = await source();
  const target = fakeProject(BODY);
  const r = await target.run("import", results);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(target.resultFiles(), files);
  assert.equal(invalidStored(join(target.dir, "results")), []);
});

test.run();
