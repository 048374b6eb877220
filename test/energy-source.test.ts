// lem doctor's energy line: which scopes a build will measure, and the fix for a zone it cannot read.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeEnergy, raplSummary } from "../src/exec/energy-source.js";
import { tempDir } from "./helpers/temp.js";

function tree(zones: Record<string, string>): string {
  const root = tempDir("powercap-");
  for (const [folder, name] of Object.entries(zones)) {
    mkdirSync(join(root, folder), { recursive: true });
    writeFileSync(join(root, folder, "name"), `${name}\n`);
    writeFileSync(join(root, folder, "energy_uj"), "1000\n");
  }
  return root;
}

/** Root reads anything, so the kernel's EACCES is injected at the file read for the named zone. */
const denying = (zone: string) => (path: string) => {
  if (path.endsWith(`${zone}/energy_uj`)) throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
  return readFileSync(path, "utf8");
};

test("a GPU host with readable package and DRAM zones: NVML plus both RAPL scopes", () => {
  const root = tree({ "intel-rapl:0": "package-0", "intel-rapl:0:0": "core", "intel-rapl:0:1": "dram" });
  const line = describeEnergy({ gpu: "NVIDIA H100", rapl: raplSummary(root) });
  assert.ok(line.ok);
  assert.is(line.value, "GPU runs: NVML on NVIDIA H100, with CPU package and DRAM (RAPL) each in its own scope; CPU runs: RAPL (1 package, DRAM beside it)");
  assert.is(line.fix, undefined);
});

test("a denied DRAM zone: energy still ok, the zone named with the chmod of its file", () => {
  const root = tree({ "intel-rapl:0": "package-0", "intel-rapl:0:1": "dram" });
  const line = describeEnergy({ gpu: "NVIDIA H100", rapl: raplSummary(root, denying("intel-rapl:0:1")) });
  assert.ok(line.ok);
  assert.match(line.value, "with CPU package (RAPL) each in its own scope");
  assert.match(line.value, `not read: intel-rapl:0:1/energy_uj permission denied (root only since Linux 5.10; fix: sudo chmod a+r ${root}/intel-rapl:0:1/energy_uj)`);
  assert.is(line.fix, `sudo chmod a+r ${root}/intel-rapl:0:1/energy_uj (again after each boot)`);
});

test("no GPU and the only package denied: not measurable, and the fix is that file's permissions", () => {
  const root = tree({ "intel-rapl:0": "package-0" });
  const line = describeEnergy({ rapl: raplSummary(root, denying("intel-rapl:0")) });
  assert.not.ok(line.ok);
  assert.match(line.value, `RAPL not readable at ${root} (intel-rapl:0/energy_uj permission denied`);
  assert.is(line.fix, `let this user read RAPL (sudo chmod a+r ${root}/intel-rapl:0/energy_uj (again after each boot)), or measure on a machine with an NVIDIA GPU`);
});

test("LEM_POWERCAP_ROOT points doctor at another tree; a missing one says so", () => {
  const before = process.env.LEM_POWERCAP_ROOT;
  process.env.LEM_POWERCAP_ROOT = tree({ "amd-rapl:0": "package-0" });
  try {
    assert.equal([raplSummary().packages, raplSummary().dram], [1, 0]);
    process.env.LEM_POWERCAP_ROOT = "/nonexistent/powercap";
    assert.is(raplSummary().why, "RAPL not readable at /nonexistent/powercap (no such folder)");
  } finally {
    if (before === undefined) delete process.env.LEM_POWERCAP_ROOT; else process.env.LEM_POWERCAP_ROOT = before;
  }
});

test.run();
