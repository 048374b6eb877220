import { LemError } from "../errors.js";
import { checkDevice, SETUP_FIX, type PreflightSettings, type RunnerProblem } from "./preflight.js";
import { policyOf } from "./runner-kinds.js";
import type { ResolvedRunner } from "../config/runner-resolution.js";
import type { Backend } from "../lemfile/types.js";

/** Every problem of the runners a build will use, in backend order: this host's GPU, then the kind's own check. */
export async function checkRunners(resolved: Map<Backend, ResolvedRunner>, settings: PreflightSettings): Promise<RunnerProblem[]> {
  const problems: RunnerProblem[] = [];
  for (const [backend, choice] of resolved) {
    const policy = policyOf(choice);
    const problem = checkDevice(backend, choice.spec, policy.onHost, settings) ?? await policy.check(backend, choice.spec, settings);
    if (problem) problems.push({ ...problem, message: `${problem.message} (runner from ${choice.source})` });
  }
  return problems;
}

/**
 * Before any node starts: each runner the build will use can work. If one cannot, one error
 * (exit 2) with the fix, rather than a failed first node, a kept exchange dir and a row of skips.
 */
export async function preflight(resolved: Map<Backend, ResolvedRunner>, settings: PreflightSettings): Promise<void> {
  const problems = await checkRunners(resolved, settings);
  if (problems.length === 0) return;
  if (problems.length === 1) throw new LemError(`cannot measure here: ${problems[0].message}`, problems[0].fix, 2);
  throw new LemError(`cannot measure here: ${problems.length} runners cannot work`, SETUP_FIX, 2,
    problems.map((p) => `${p.message}; fix: ${p.fix}`));
}
