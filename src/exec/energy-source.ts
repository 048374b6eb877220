import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// Whether this machine can measure energy, as the harness will find it (docker/harness/lem_harness/
// energy): NVML for GPU runs, RAPL package counters for CPU runs. Where neither works, a result's
// energy figures are null with a reason: doctor says so before a build, not after.

export const POWERCAP_ROOT = "/sys/class/powercap";

export interface EnergySources {
  /** NVML's GPU, where nvidia-smi found one. */
  gpu?: string;
  /** Readable RAPL package domains, else why none is. */
  rapl: { ok: true; packages: number } | { ok: false; why: string; denied: boolean };
}

/** RAPL as the harness reads it: intel-rapl:N folders named package-*, with a readable energy_uj. */
export function raplPackages(root = process.env.LLEM_POWERCAP_ROOT ?? POWERCAP_ROOT): EnergySources["rapl"] {
  let folders: string[];
  try {
    folders = readdirSync(root).filter((name) => /^intel-rapl:\d+$/.test(name));
  } catch {
    return { ok: false, why: `RAPL not readable at ${root} (no such folder)`, denied: false };
  }
  let packages = 0;
  const problems: string[] = [];
  for (const folder of folders) {
    try {
      if (!readFileSync(join(root, folder, "name"), "utf8").trim().startsWith("package")) continue;
      readFileSync(join(root, folder, "energy_uj"), "utf8");
      packages += 1;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push(code === "EACCES" ? `${folder}/energy_uj permission denied (root only since Linux 5.10)` : `${folder}: ${code ?? "unreadable"}`);
    }
  }
  if (packages > 0) return { ok: true, packages };
  const denied = problems.some((p) => p.includes("permission denied"));
  return { ok: false, why: `RAPL not readable at ${root} (${problems.length ? problems.join("; ") : "no intel-rapl:N package domain"})`, denied };
}

/** The doctor line: what will be measured, or what will be null and why, with the fix. */
export function describeEnergy(sources: EnergySources): { ok: boolean; value: string; fix?: string } {
  const cpu = sources.rapl.ok ? `CPU runs: RAPL (${sources.rapl.packages} package${sources.rapl.packages > 1 ? "s" : ""})` : undefined;
  if (sources.gpu) {
    return { ok: true, value: `GPU runs: NVML on ${sources.gpu}; ${cpu ?? `CPU runs (pytorch.device: cpu): not measured, ${sources.rapl.ok ? "" : sources.rapl.why}`}` };
  }
  if (cpu) return { ok: true, value: `${cpu} (no NVIDIA GPU: every run is a CPU run)` };
  const rapl = sources.rapl as { why: string; denied: boolean };
  return {
    ok: false,
    value: `not measurable here: every result's energy (total_j, J/token, power) will be null, since there is no NVIDIA GPU and ${rapl.why}; throughput and latency are still measured`,
    fix: rapl.denied
      ? `let this user read RAPL (sudo chmod a+r ${POWERCAP_ROOT}/intel-rapl:*/energy_uj, again after each boot), or measure on a machine with an NVIDIA GPU`
      : "measure on a machine with an NVIDIA GPU, or on bare metal whose kernel exposes RAPL (sudo modprobe intel_rapl_common; most VMs and containers have none)",
  };
}
