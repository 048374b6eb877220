import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// Whether this machine can measure energy, as the harness will find it (docker/harness/lem_harness/
// energy): NVML for GPU runs, RAPL for CPU runs, and RAPL's CPU package and DRAM beside either. Where
// nothing works, a result's energy figures are null with a reason: doctor says so before a build, not after.

export const POWERCAP_ROOT = "/sys/class/powercap";

/** The powercap folder: LEM_POWERCAP_ROOT (a fake sysfs tree in tests; the harness reads it too) or the kernel's. */
export const powercapRoot = (): string => process.env.LEM_POWERCAP_ROOT || POWERCAP_ROOT;

// As rapl.py's ZONE_FOLDER: intel-rapl:N and its subzones intel-rapl:N:M (AMD shows the same names through
// Linux's driver), amd-rapl:N[:M] where a kernel names them so. intel-rapl-mmio repeats package 0's counter.
const ZONE_FOLDER = /^(?:intel-rapl|amd-rapl):(\d+)(?::(\d+))?$/;

export type RaplScope = "cpu" | "dram";

/** One RAPL zone: its folder, its name file, the scope it counts in (null: inside a package, or the platform). */
export interface RaplZone { zone: string; name: string | null; scope: RaplScope | null; readable: boolean; reason?: string }

export interface RaplSummary {
  root: string;
  zones: RaplZone[];
  /** Readable zones per scope. */
  packages: number;
  dram: number;
  /** Why CPU runs get no energy (no readable package zone); absent when they do. */
  why?: string;
}

export interface EnergySources {
  /** NVML's GPU, where nvidia-smi found one. */
  gpu?: string;
  rapl: RaplSummary;
}

/** The scope a zone's name counts in, as rapl.py's scope_of. */
export function scopeOf(name: string): RaplScope | null {
  return name.startsWith("package") ? "cpu" : name === "dram" ? "dram" : null;
}

const errorText = (error: unknown) => (error as NodeJS.ErrnoException).code ?? (error as Error).message;

/** Every RAPL zone under root as the harness's list_zones reads it; read: the file read, for tests. */
export function raplZones(root = powercapRoot(), read: (path: string) => string = (p) => readFileSync(p, "utf8")): RaplZone[] | { missing: string } {
  let entries: string[];
  try {
    entries = readdirSync(root).sort();
  } catch (error) {
    return { missing: errorText(error) };
  }
  const zones: RaplZone[] = [];
  for (const zone of entries.filter((e) => ZONE_FOLDER.test(e))) {
    let name: string;
    try {
      name = read(join(root, zone, "name")).trim();
    } catch (error) {
      zones.push({ zone, name: null, scope: null, readable: false, reason: `${zone}/name unreadable (${errorText(error)})` });
      continue;
    }
    const scope = scopeOf(name);
    if (scope === null) { zones.push({ zone, name, scope, readable: true }); continue; }
    const file = join(root, zone, "energy_uj");
    try {
      if (!/^\d+$/.test(read(file).trim())) throw new Error("not a number");
      zones.push({ zone, name, scope, readable: true });
    } catch (error) {
      const code = errorText(error);
      const reason = code === "EACCES"
        ? `${zone}/energy_uj permission denied (root only since Linux 5.10; fix: sudo chmod a+r ${file})`
        : `${zone}/energy_uj unreadable (${code})`;
      zones.push({ zone, name, scope, readable: false, reason });
    }
  }
  return zones;
}

/** What RAPL the harness will read here, and why CPU runs get none where they get none. */
export function raplSummary(root = powercapRoot(), read?: (path: string) => string): RaplSummary {
  const zones = raplZones(root, read);
  if (!Array.isArray(zones)) return { root, zones: [], packages: 0, dram: 0, why: `RAPL not readable at ${root} (${zones.missing === "ENOENT" ? "no such folder" : zones.missing})` };
  const count = (scope: RaplScope) => zones.filter((z) => z.scope === scope && z.readable).length;
  const summary: RaplSummary = { root, zones, packages: count("cpu"), dram: count("dram") };
  if (summary.packages === 0) {
    const problems = zones.filter((z) => (z.scope === "cpu" || z.name === null) && z.reason).map((z) => z.reason);
    summary.why = `RAPL not readable at ${root} (${problems.length ? problems.join("; ") : "no package zone"})`;
  }
  return summary;
}

/** Zones the harness would count but cannot read: their energy_uj files, for the chmod that fixes them. */
function unreadable(rapl: RaplSummary): RaplZone[] {
  return rapl.zones.filter((z) => !z.readable && (z.scope !== null || z.name === null));
}

/** The doctor line: what will be measured in which scope, or what will be null and why, with the fix. */
export function describeEnergy(sources: EnergySources): { ok: boolean; value: string; fix?: string } {
  const { rapl } = sources;
  const denied = unreadable(rapl).filter((z) => z.reason?.includes("permission denied"));
  const chmod = denied.length ? `sudo chmod a+r ${denied.map((z) => join(rapl.root, z.zone, "energy_uj")).join(" ")} (again after each boot)` : undefined;
  const missing = unreadable(rapl).length
    ? `; not read: ${unreadable(rapl).map((z) => z.reason).join("; ")}` : "";
  const beside = [rapl.packages ? "CPU package" : "", rapl.dram ? "DRAM" : ""].filter(Boolean);
  const cpu = rapl.packages ? `CPU runs: RAPL (${rapl.packages} package${rapl.packages > 1 ? "s" : ""}${rapl.dram ? ", DRAM beside it" : rapl.zones.some((z) => z.scope === "dram") ? ", DRAM unreadable" : ", no DRAM zone"})` : undefined;
  if (sources.gpu) {
    const others = beside.length ? `, with ${beside.join(" and ")} (RAPL) each in its own scope` : " (CPU and DRAM not read: no readable RAPL zone)";
    return { ok: true, value: `GPU runs: NVML on ${sources.gpu}${others}; ${cpu ?? `CPU runs (pytorch.device: cpu): not measured, ${rapl.why}`}${missing}`, fix: chmod };
  }
  if (cpu) return { ok: true, value: `${cpu} (no NVIDIA GPU: every run is a CPU run)${missing}`, fix: chmod };
  return {
    ok: false,
    value: `not measurable here: every result's energy (total_j, J/token, power) will be null, since there is no NVIDIA GPU and ${rapl.why}; throughput and latency are still measured`,
    fix: chmod
      ? `let this user read RAPL (${chmod}), or measure on a machine with an NVIDIA GPU`
      : "measure on a machine with an NVIDIA GPU, or on bare metal whose kernel exposes RAPL (sudo modprobe intel_rapl_common; most VMs and containers have none)",
  };
}
