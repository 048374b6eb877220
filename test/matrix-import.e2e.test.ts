// The CI path end to end with the real CLI (fake Python, so it runs in seconds): lem matrix splits the
// pending nodes into balanced shards, each shard is built in its own clean copy of the project with
// an empty store, lem import merges the three stores into a fourth, and nothing is left to measure.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { cpSync, renameSync, rmSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fakeProject, STACK } from "./faults/helpers.js";
import { TempProject } from "./helpers/project.js";
import { tempDir } from "./helpers/temp.js";

interface Entry { shard: string; name: string; nodes: number; configs: number; estimated_seconds: number; hashes: string }

const nine = `{ experiments: sweep("s", { random_seed: [1, 2, 3, 4, 5, 6, 7, 8, 9] }, { model: "fake:ok" }), execution: { cycles: 2 } }`;

/** A copy of the project's folder (lemfile only, no results), run with the same environment. */
function cleanCopy(from: TempProject, env: NodeJS.ProcessEnv): TempProject {
  const copy = fakeProject(nine, env);
  cpSync(join(from.dir, "lemfile.ts"), join(copy.dir, "lemfile.ts"));
  return copy;
}

test("matrix → 3 shards on separate stores → import → everything done, nothing re-runs", async () => {
  const main = fakeProject(nine);
  const m = await main.run("matrix", "--max-jobs", "3");
  assert.is(m.code, 0, m.stderr);
  const matrix = JSON.parse(m.stdout) as { include: Entry[] };
  assert.is(matrix.include.length, 3);
  assert.is(matrix.include.reduce((n, e) => n + e.nodes, 0), 18, "every pending node is in a shard");
  assert.ok(matrix.include.every((e) => e.nodes > 0 && e.nodes % 2 === 0), "no empty shard; both cycles of a config together");
  const all = matrix.include.flatMap((e) => e.hashes.split(","));
  assert.is(new Set(all).size, 9, "shards are disjoint");
  assert.match(m.stderr, /imbalance/i);
  assert.is((await main.run("matrix", "--max-jobs", "3")).stdout, m.stdout, "same input, byte-identical output");

  const stores: string[] = [];
  for (const entry of matrix.include) {
    const shard = cleanCopy(main, {});
    const r = await shard.json<{ nodes: { hash: string; state: string }[] }>("build", "--shard", entry.shard, "--shard-hashes", entry.hashes);
    assert.equal(new Set(r.nodes.map((n) => n.hash)), new Set(entry.hashes.split(",")), `${entry.shard} ran exactly its configs`);
    assert.ok(r.nodes.every((n) => n.state === "ran"));
    stores.push(join(shard.dir, "results"));
  }

  const merged = cleanCopy(main, {});
  const dry = await merged.run("import", "--dry-run", ...stores);
  assert.is(dry.code, 0, dry.stderr);
  assert.equal(merged.resultFiles(), [], "--dry-run writes nothing");
  const imported = await merged.run("import", "--json", ...stores);
  assert.is(imported.code, 0, imported.stderr);
  assert.is(merged.resultFiles().length, 18);
  const status = await merged.json("status");
  assert.ok(status.nodes.every((n) => n.state === "done"), JSON.stringify(status.nodes.filter((n) => n.state !== "done")));
  const again = await merged.json("build");
  assert.equal(again.summary, { ran: 0, cached: 18, failed: 0, skipped: 0 });

  // Importing the same stores again: duplicates, nothing written, exit 0.
  const twice = await merged.run("import", ...stores);
  assert.is(twice.code, 0, twice.stderr);
  assert.is(merged.resultFiles().length, 18);
});

test("import refuses a tampered result and one whose folder is not its hash, writing nothing of them", async () => {
  const source = fakeProject(`{ experiments: [{ name: "a", model: "fake:ok" }, { name: "b", model: "fake:ok", random_seed: 7 }] }`);
  assert.is((await source.run("build")).code, 0);
  const store = join(tempDir(), "results");
  cpSync(join(source.dir, "results"), store, { recursive: true });
  const [first] = source.resultFiles();
  const file = join(store, first);
  const result = JSON.parse(readFileSync(file, "utf8"));
  delete result.tokens; // no longer valid against the schema
  writeFileSync(file, JSON.stringify(result));
  // The other config's whole folder moved under a name that is not its hash (a hand-copied or renamed folder).
  const tamperedHash = first.split("/")[0];
  const realHash = readdirSync(store).find((d) => d !== tamperedHash)!;
  const wrongName = realHash === "0123456789abcdef" ? "fedcba9876543210" : "0123456789abcdef";
  renameSync(join(store, realHash), join(store, wrongName));
  const target = fakeProject(`{ experiments: [{ name: "a", model: "fake:ok" }] }`);
  const r = await target.run("import", store);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, new RegExp(tamperedHash));
  assert.not.match(r.stderr, STACK);
  assert.not.ok(target.resultFiles().includes(first), "the refused file is not imported");

  const json = await target.run("import", "--json", store);
  assert.is(json.code, 1, json.stdout + json.stderr);
  const report = JSON.parse(json.stdout) as { files: { source: string; state: string; hash?: string; reason?: string }[]; summary: Record<string, number> };
  const moved = report.files.filter((f) => f.source.startsWith(join(store, wrongName)));
  assert.ok(moved.length >= 2, `its config.json and its result are both named: ${JSON.stringify(report.files)}`);
  assert.ok(moved.every((f) => f.state === "refused"), JSON.stringify(moved));
  const config = moved.find((f) => f.source.endsWith("config.json"))!;
  assert.match(config.reason!, new RegExp(`${realHash}.*not .*${wrongName}|${wrongName}.*${realHash}`), "the reason names the folder and the hash its config really has");
  for (const f of moved.filter((f) => f !== config)) assert.match(f.reason ?? "", new RegExp(`${realHash} is not its folder's ${wrongName}|config\\.json was refused`), "its results are refused with it");
  assert.is(report.summary.imported, 0);
  assert.equal(target.resultFiles(), [], "nothing of either folder is written, under either name");

  const bad = await target.run("import", join(tempDir(), "missing"));
  assert.is(bad.code, 2);
  rmSync(store, { recursive: true, force: true });
  assert.ok(readdirSync(target.dir).includes("lemfile.ts"));
});

test("a shard re-run after a failure measures only what it lacks", async () => {
  const main = fakeProject(nine);
  const { include } = JSON.parse((await main.run("matrix", "--max-jobs", "3")).stdout) as { include: Entry[] };
  const entry = include[0];
  const shard = cleanCopy(main, {});
  const first = await shard.json("build", "--shard", entry.shard, "--shard-hashes", entry.hashes);
  assert.is(first.summary!.ran, entry.nodes);
  // The job died after measuring all but one cycle: that result never reached the store.
  const lost = shard.resultFiles()[0];
  rmSync(join(shard.dir, "results", lost));
  const again = await shard.json("build", "--shard", entry.shard, "--shard-hashes", entry.hashes);
  assert.equal(again.summary, { ran: 1, cached: entry.nodes - 1, failed: 0, skipped: 0 });
});

test("import: a conflicting copy keeps the stored file and is reported; exit 1", async () => {
  const source = fakeProject(`{ experiments: [{ name: "a", model: "fake:ok" }] }`);
  assert.is((await source.run("build")).code, 0);
  const target = fakeProject(`{ experiments: [{ name: "a", model: "fake:ok" }] }`);
  assert.is((await target.run("build")).code, 0);
  const [file] = target.resultFiles();
  // Two builds within one second write the same bytes; make this copy differ by construction.
  const stored = JSON.parse(readFileSync(join(target.dir, "results", file), "utf8"));
  stored.started_at = "2000-01-01T00:00:00Z";
  writeFileSync(join(target.dir, "results", file), JSON.stringify(stored, null, 2));
  const mine = readFileSync(join(target.dir, "results", file), "utf8");
  const r = await target.run("import", "--json", join(source.dir, "results"));
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /conflict/);
  assert.is(readFileSync(join(target.dir, "results", file), "utf8"), mine, "the stored result is kept");
});

test("matrix: more jobs than GitHub or GitLab allow is refused with the fix", async () => {
  const project = fakeProject(`{ experiments: [{ name: "a", model: "fake:ok" }] }`);
  const github = await project.run("matrix", "--max-jobs", "257");
  assert.is(github.code, 2);
  assert.match(github.stderr, /256/);
  const gitlab = await project.run("matrix", "--max-jobs", "201", "--format", "gitlab");
  assert.is(gitlab.code, 2);
  assert.match(gitlab.stderr, /200/);
  assert.not.match(github.stderr + gitlab.stderr, STACK);
});

test.run();
