// The Python harness's own unit tests (docker/harness/tests), run with a real Python + torch: one uvu
// test per Python test, so a failure names its test and every skip shows its reason.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { requirePython } from "./helpers/python.js";
import { tempDir } from "./helpers/temp.js";

const python = requirePython("harness.test.ts");
const HARNESS = fileURLToPath(new URL("../docker/harness/", import.meta.url));

/**
 * Skips that are right on some machines: GPU-only or CPU-only tests, and, on a Python without the
 * pinned requirements, no transformers or a torch without SDPA. Under LEM_REQUIRE_TORCH=1 any other
 * skip fails, and under LEM_REQUIRE_TRANSFORMERS=1 (CI, with lem's venv) only the GPU ones remain:
 * a test that silently stops running is lost.
 */
const EXPECTED_SKIPS = [/this machine has a GPU/, /vllm is installed here/,
  ...(process.env.LEM_REQUIRE_TRANSFORMERS === "1" ? [] : [/transformers is not installed/, /no scaled_dot_product_attention/])];

interface PythonTest { id: string; outcome: "passed" | "failed" | "error" | "skipped"; detail: string; seconds: number }

if (python) {
  const report = join(tempDir(), "harness-tests.jsonl");
  const run = spawnSync(python, [join(HARNESS, "tests", "json_report.py"), report], { cwd: HARNESS, encoding: "utf8", timeout: 300_000 });
  let results: PythonTest[] = [];
  try {
    results = readFileSync(report, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line) as PythonTest);
  } catch { /* asserted below */ }

  test("the harness's Python suite ran: every test reported, none lost to discovery", () => {
    assert.ok(results.length >= 40, `expected the harness's ~49 tests, got ${results.length}:\n${run.stderr.slice(-3000)}`);
    assert.is(run.status, results.some((r) => r.outcome === "failed" || r.outcome === "error") ? 1 : 0, run.stderr.slice(-3000));
  });

  for (const r of results) {
    const name = `python: ${r.id}`;
    if (r.outcome === "skipped") {
      console.log(`  skipped ${r.id}: ${r.detail}`);
      if (process.env.LEM_REQUIRE_TORCH === "1" && !EXPECTED_SKIPS.some((p) => p.test(r.detail))) {
        test(`${name} (skipped unexpectedly)`, () => assert.unreachable(`skipped with LEM_REQUIRE_TORCH=1: ${r.detail}`));
      } else {
        test.skip(name, () => {});
      }
      continue;
    }
    test(name, () => {
      if (r.outcome !== "passed") assert.unreachable(`${r.outcome} after ${r.seconds}s:\n${r.detail}`);
    });
  }
}

test.run();
