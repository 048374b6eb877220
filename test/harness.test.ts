// The Python harness's own unit tests (docker/harness/tests), run with a real Python + torch.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { requirePython } from "./helpers/python.js";

const python = requirePython("harness.test.ts");
const HARNESS = fileURLToPath(new URL("../docker/harness/", import.meta.url));

if (python) {
  test("the harness's unittest suite passes (models, KV cache, sampling, energy, protocol, signals)", () => {
    const r = spawnSync(python, ["-m", "unittest", "discover", "-s", "tests"], { cwd: HARNESS, encoding: "utf8", timeout: 300_000 });
    const summary = r.stderr.trim().split("\n").slice(-3).join(" | ");
    assert.is(r.status, 0, `python -m unittest failed:\n${r.stderr.slice(-4000)}`);
    assert.match(r.stderr, /Ran \d+ tests/);
    console.log(`  harness: ${summary}`);
  });
}

test.run();
