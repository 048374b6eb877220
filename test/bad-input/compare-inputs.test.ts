// Stores that someone else wrote, read by `lem compare` (a folder or a committed tree) and by the
// commands that read this project's store: links are not followed, bad fields never crash, the
// folders read are never changed, and every text lands escaped for its medium.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/temp.js";
import { fakeProject, okExperiments, STACK } from "../faults/helpers.js";
import { syntheticResults } from "../report-fixtures.js";
import { buildReportData } from "../../src/report/report-data.js";
import { renderMarkdown } from "../../src/report/markdown.js";
import { groupResults } from "../../src/report/aggregate.js";
import { compareGroups } from "../../src/compare/compare.js";
import { renderCompareMarkdown, renderCompareTable } from "../../src/compare/compare-render.js";
import { printable } from "../../src/cli/output.js";

const BODY = okExperiments(2, 2);
const SECRET = "ghp_SECRETTOKEN0123456789";
type Run = { code: number | null; stdout: string; stderr: string };

function tree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isSymbolicLink()) out.set(path, `-> ${readlinkSync(path)}`);
      else if (entry.isDirectory()) walk(path);
      else out.set(path, readFileSync(path, "base64"));
    }
  };
  walk(root);
  return out;
}

function clean(r: Run, shown = `\n${r.stdout}\n${r.stderr}`) {
  const text = r.stdout + r.stderr;
  assert.not.match(text, STACK, `no stack trace${shown}`);
  assert.not.ok(text.includes(SECRET), `nothing quoted from where a link points${shown}`);
  assert.not.ok(/\x1b/.test(text), `no escape character reaches the terminal${shown}`);
  assert.not.match(text, /^\s*::[a-z]+(\s[^:]*)?::/m, `no line reads as a GitHub workflow command${shown}`);
}

/** A measured project in a git repository (results committed), and a token file outside it. */
async function committed(edit: (results: string, outside: string) => void) {
  const project = fakeProject(BODY);
  assert.is((await project.run("build")).code, 0);
  const outside = tempDir("lem-outside-");
  writeFileSync(join(outside, "token.txt"), `${SECRET}\n`);
  const results = join(project.dir, "results");
  edit(results, outside);
  const git = (...args: string[]) => spawnSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", ...args], { cwd: project.dir, encoding: "utf8" });
  git("init", "-q");
  git("add", "-A");
  assert.is(git("commit", "-qm", "results").status, 0, "committed");
  return { project, results, outside, files: project.resultFiles() };
}

test("compare git:HEAD with a committed result that links to a token file: warns naming HEAD:path, never quotes it", async () => {
  const { project, results, files } = await committed((results, outside) => {
    const [first] = readdirSync(results).sort();
    const hw = readdirSync(join(results, first)).find((n) => n.startsWith("cpu-"))!;
    rmSync(join(results, first, hw, "cycle-1.json"));
    symlinkSync(join(outside, "token.txt"), join(results, first, hw, "cycle-1.json"));
  });
  const before = tree(results);
  const r = await project.run("compare", "--allow-unmeasured", "git:HEAD", "results");
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`warning: HEAD:results/${files[0].replace(/\//g, "\\/").replace(".", "\\.")}: a symbolic link; not followed, ignored`));
  assert.match(r.stderr, new RegExp(`warning: results/${files[0].replace(/\//g, "\\/").replace(".", "\\.")}: a symbolic link; not followed, ignored`));
  clean(r);
  assert.equal(tree(results), before, "the working tree's results are unchanged");
});

test("compare git:HEAD with a committed result folder that links out of the tree: warns naming it and ignores it", async () => {
  const { project } = await committed((results, outside) => {
    const [first] = readdirSync(results).sort();
    cpSync(join(results, first), join(outside, "entry"), { recursive: true });
    rmSync(join(results, first), { recursive: true });
    symlinkSync(join(outside, "entry"), join(results, first));
  });
  const r = await project.run("compare", "--allow-unmeasured", "--json", "git:HEAD", "results");
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /warning: HEAD:results\/[0-9a-f]{16}: a symbolic link; not followed, ignored/);
  assert.is(JSON.parse(r.stdout).configs.length, 1, "only the real folder is compared");
  clean(r);
});

test("compare never changes the folders it reads: invalid files in results/ are named and left in place", async () => {
  const project = fakeProject(BODY);
  assert.is((await project.run("build")).code, 0);
  const results = join(project.dir, "results");
  const base = join(tempDir(), "base");
  cpSync(results, base, { recursive: true });
  const [first, second] = project.resultFiles();
  writeFileSync(join(results, first), `${SECRET} not json`);
  const invalid = JSON.parse(readFileSync(join(results, second), "utf8"));
  delete invalid.tokens;
  writeFileSync(join(results, second), JSON.stringify(invalid));
  writeFileSync(join(base, first.split("/")[0], "config.json"), "{ cut");
  const before = { results: tree(results), base: tree(base) };
  const r = await project.run("compare", "--allow-unmeasured", base, "results");
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`results/${first.replace(".", "\\.")}: unreadable \\(not valid JSON\\); ignored \\(left as it is\\)`));
  assert.match(r.stderr, new RegExp(`results/${second.replace(".", "\\.")}: invalid result \\(tokens: required but missing\\); ignored \\(left as it is\\)`));
  assert.match(r.stderr, /base\/[0-9a-f]{16}\/config\.json: unreadable \(not valid JSON/);
  clean(r);
  assert.equal(tree(results), before.results, "results/ is byte-identical, nothing renamed");
  assert.equal(tree(base), before.base, "the base folder is byte-identical");
});

test("compare with names of the wrong shape in config.json: a warning naming names, no crash", async () => {
  const project = fakeProject(BODY);
  assert.is((await project.run("build")).code, 0);
  const results = join(project.dir, "results");
  const base = join(tempDir(), "base");
  cpSync(results, base, { recursive: true });
  const [one, two] = readdirSync(base).sort();
  const edit = (hash: string, names: unknown) => {
    const path = join(base, hash, "config.json");
    writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, "utf8")), names }));
  };
  edit(one, { toString: 1 });
  edit(two, "abc");
  const before = tree(base);
  const r = await project.run("compare", "--allow-unmeasured", base, "results");
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`${one}/config\\.json: not a valid lem config file \\(names: expected array`));
  assert.match(r.stderr, new RegExp(`${two}/config\\.json: not a valid lem config file \\(names: expected array, got "abc"\\); ignored\\n`));
  clean(r);
  assert.equal(tree(base), before);
});

test("compare --markdown: HTML and Markdown in a hardware string are escaped, end to end", async () => {
  const project = fakeProject(BODY);
  assert.is((await project.run("build")).code, 0);
  const results = join(project.dir, "results");
  const hostile = "cpu:<img src=x onerror=alert(1)> **bold** [link](http://x) | cell";
  for (const file of project.resultFiles()) {
    const path = join(results, file);
    const result = JSON.parse(readFileSync(path, "utf8"));
    writeFileSync(path, JSON.stringify({ ...result, hardware: hostile }));
  }
  const base = join(tempDir(), "base");
  cpSync(results, base, { recursive: true });
  const r = await project.run("compare", "--allow-unmeasured", "--markdown", base, "results");
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.not.match(r.stdout, /(?<!\\)<img/, "no raw HTML tag");
  assert.match(r.stdout, /\\<img src=x onerror=alert\\\(1\\\)\\> \\\*\\\*bold\\\*\\\* \\\[link\\\]\\\(http:\/\/x\\\) \\\| cell/);
  for (const row of r.stdout.split("\n").filter((l) => l.startsWith("| e"))) {
    assert.is(row.split(/(?<!\\)\|/).length, 13, `a row keeps its 11 cells: ${row}`);
  }
  clean(r);
});

test("status: a folder in the store named with ANSI escapes and ::error:: is named on one escaped line", async () => {
  const project = fakeProject(BODY);
  assert.is((await project.run("build")).code, 0);
  const [first] = project.resultFiles();
  const odd = join(project.dir, "results", first.split("/")[0], "hw\n::error::pwned\u001b[31m");
  mkdirSync(odd);
  writeFileSync(join(odd, "cycle-1.json"), "{}");
  const r = await project.run("status");
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /warning: .*hw\uFFFD::error::pwned\uFFFD\[31m\/cycle-1\.json: invalid result/);
  clean(r);
});

test("status reads a hand-edited config.json whose names is a string; build rewrites it with real names", async () => {
  const project = fakeProject(BODY);
  assert.is((await project.run("build")).code, 0);
  const [hash] = readdirSync(join(project.dir, "results")).sort();
  const path = join(project.dir, "results", hash, "config.json");
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, "utf8")), names: "abc" }));
  const r = await project.run("status");
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`${hash}/config\\.json: not a valid lem config file \\(names: expected array, got "abc"\\); ignored \\(the next build rewrites it\\)`));
  clean(r);
  const b = await project.run("build");
  assert.is(b.code, 0, b.stdout + b.stderr);
  assert.ok(["e0", "e1"].includes(JSON.parse(readFileSync(path, "utf8")).names.join()), "names are the lemfile's, not the letters of a string");
});

const HOSTILE_HW = "cpu:x\n# pwned <script>alert(1)</script>\r\n::error::y";
const HOSTILE_NAME = "a\n## heading <b>b</b> [l](u)";

test("summary.md: a hardware string with newlines and HTML stays inside its heading, escaped", () => {
  const results = syntheticResults({ configs: 2, cycles: 2, hardware: HOSTILE_HW });
  const md = renderMarkdown(buildReportData(results, { namesOf: () => [HOSTILE_NAME] }));
  assert.not.match(md, /^#+ pwned|^## heading|^::error::/m);
  assert.not.match(md, /<script>|<b>/);
  assert.match(md, /^### cpu:x # pwned \\<script\\>alert\\\(1\\\)\\<\/script\\> ::error::y$/m);
  // Every row keeps the header's cells: no name or hardware text split a cell.
  const cellsOf = (line: string) => line.split(/(?<!\\)\|/).length;
  const header = md.split("\n").find((l) => l.startsWith("|"))!;
  const rows = md.split("\n").filter((l) => l.startsWith("| a"));
  assert.ok(rows.length > 0, md);
  for (const row of rows) assert.is(cellsOf(row), cellsOf(header), row);
});

test("compare renderers: names and hardware escaped for Markdown and for the terminal", () => {
  const groups = groupResults(syntheticResults({ configs: 2, cycles: 3, hardware: HOSTILE_HW }), () => [HOSTILE_NAME]);
  const c = compareGroups(groups, groups);
  const md = renderCompareMarkdown(c);
  assert.not.match(md, /^#+ pwned|^## heading|^::error::/m);
  assert.not.match(md, /<script>|<b>/);
  assert.match(md, /\| a ## heading \\<b\\>b\\<\/b\\> \\\[l\\\]\\\(u\\\) \| cpu:x # pwned/);
  const table = renderCompareTable(c, printable);
  assert.not.match(table, /^## heading|^::error::|^# pwned/m);
  assert.match(table, /a\uFFFD## heading <b>b<\/b> \[l\]\(u\)\s+cpu:x\uFFFD# pwned/);
});

test.run();
