// Welch's t-test against scipy (Debian's python3-scipy), computed at test time from the same series.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { welch } from "../src/compare/stats.js";

const PY = "/usr/bin/python3";
const hasScipy = spawnSync(PY, ["-c", "import scipy"]).status === 0;
if (!hasScipy && process.env.CI === "true") throw new Error("python3-scipy is required under CI=true (.ci/run installs it)");
if (!hasScipy) console.warn("SKIP stats vs scipy: /usr/bin/python3 has no scipy (apt-get install python3-scipy)");

const SERIES: [number[], number[]][] = [
  [[0.0100, 0.0102, 0.0099], [0.0110, 0.0111, 0.0108]],
  [[12.1, 12.5, 11.9, 12.2], [12.0, 12.6, 12.3]],
  [[1, 2, 3, 4, 5], [2, 4, 6, 8, 10, 12]],
  [[100, 101], [150, 149.5]],
  [[5.5, 5.1, 6.2, 5.8, 5.0, 5.9, 6.1, 5.3], [5.4, 5.6]],
];

/** scipy's t-test, and the Welch interval of the difference from scipy.stats.t.ppf. */
function scipyReference(pairs: [number[], number[]][], confidence: number) {
  const script = `
import json, sys
import numpy as np
from scipy import stats
out = []
for base, cur in json.load(sys.stdin):
    b, c = np.array(base), np.array(cur)
    r = stats.ttest_ind(c, b, equal_var=False)
    qb, qc = b.var(ddof=1) / len(b), c.var(ddof=1) / len(c)
    df = (qb + qc) ** 2 / (qb ** 2 / (len(b) - 1) + qc ** 2 / (len(c) - 1))
    half = stats.t.ppf(1 - (1 - ${confidence}) / 2, df) * np.sqrt(qb + qc)
    d = c.mean() - b.mean()
    out.append({"t": float(r.statistic), "p": float(r.pvalue), "df": float(df), "lo": float(d - half), "hi": float(d + half)})
print(json.dumps(out))`;
  const r = spawnSync(PY, ["-c", script], { input: JSON.stringify(pairs) });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return JSON.parse(r.stdout.toString()) as { t: number; p: number; df: number; lo: number; hi: number }[];
}

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs scipy ${expected}`);

for (const confidence of [0.95, 0.99]) {
  (hasScipy ? test : test.skip)(`Welch's t, p, dof and CI${confidence * 100} of the difference match scipy`, () => {
    const ref = scipyReference(SERIES, confidence);
    SERIES.forEach(([base, cur], i) => {
      const w = welch(base, cur, confidence)!;
      close(w.t!, ref[i].t, `t #${i}`);
      close(w.p, ref[i].p, `p #${i}`);
      close(w.df!, ref[i].df, `df #${i}`);
      close(w.ci[0], ref[i].lo, `ci lo #${i}`);
      close(w.ci[1], ref[i].hi, `ci hi #${i}`);
    });
  });
}

test("the interval at 1 − alpha excludes 0 exactly when p < alpha", () => {
  for (const [base, cur] of SERIES) {
    const w = welch(base, cur, 0.95)!;
    assert.is(w.p < 0.05, w.ci[0] > 0 || w.ci[1] < 0);
  }
});

test("fewer than 2 values on a side: no test; constant series decide by their means", () => {
  assert.is(welch([1], [1, 2]), null);
  assert.is(welch([1, 2], []), null);
  assert.equal([welch([3, 3], [3, 3])!.p, welch([3, 3], [4, 4])!.p], [1, 0]);
});

test.run();
