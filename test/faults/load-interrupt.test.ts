// Ctrl-C while the lemfile loads (issue 17 §3): exit 130 naming the lemfile, never exit 1 with no
// message or "the lemfile called process.exit(130)"; nothing stored.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fakeProject, STACK } from "./helpers.js";

const LOOP = `import { defineLemfile } from "llenergymeasure";\nconst spin: number = 1;\nwhile (spin) {}\nexport default defineLemfile({ experiments: [{ name: "e0", model: "fake:ok" }] });\n`;

for (const [kind, source, says] of [
  ["a script lemfile (runs on lem's thread)", LOOP, true],
  // In a worker the main thread is free: lem's own Ctrl-C handler ends it at once (130, quietly).
  ["a module lemfile (top-level await: runs in a worker)", LOOP.replace("const spin", "await Promise.resolve();\nconst spin"), false],
] as const) {
  test(`Ctrl-C while ${kind} loads: exit 130 naming the lemfile, nothing stored`, async () => {
    const project = fakeProject("{ experiments: [] }", { LEM_LOAD_TIMEOUT_SECONDS: "60" });
    project.writeRaw(`// ${Math.random()}\n${source}`); // never a cached bundle: the load is under way when Ctrl-C comes
    for (const command of ["status", "build"]) {
      const run = project.run(command);
      await sleep(1500);
      run.child.kill("SIGINT");
      const r = await run;
      assert.is(r.code, 130, `${command}: ${r.stdout}${r.stderr}`);
      assert.not.match(r.stderr, /process\.exit/, r.stderr);
      assert.not.match(r.stderr, STACK, r.stderr);
      if (says || r.stderr) assert.match(r.stderr, /lemfile\.ts: interrupted while the lemfile was loading/);
      assert.not.ok(existsSync(join(project.dir, "results")), "nothing stored");
    }
  });
}

test.run();
