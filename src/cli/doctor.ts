import { spawnSync } from "node:child_process";
import { parse } from "./args.js";
import { out } from "./output.js";
import { detectHardware } from "../exec/hardware.js";
import { HARNESS_DIR } from "../paths.js";
import { VERSION } from "./version.js";

export const DOCTOR_HELP = `lem doctor — what lem finds on this machine: Node, Python and torch, Docker, GPUs

  --json   print the checks as JSON
`;

interface Check { name: string; ok: boolean; value: string; fix?: string }

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000, env: env ?? process.env });
  return { ok: r.status === 0, text: (r.status === 0 ? r.stdout : r.stderr || r.error?.message || "").trim() };
}

export async function doctorCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, "doctor");
  if (values.help) { out(DOCTOR_HELP); return 0; }
  const python = process.env.LEM_PYTHON || "python3";
  const checks: Check[] = [];
  checks.push({ name: "lem", ok: true, value: `${VERSION} (node ${process.version})` });
  const py = run(python, ["-c", "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda' if torch.cuda.is_available() else 'cpu-only')"]);
  checks.push({ name: "python + torch", ok: py.ok, value: py.ok ? `${python}: ${py.text}` : `${python}: ${py.text.split("\n").pop()}`,
    fix: "install torch for this Python (Debian: apt-get install python3-torch libopenblas0-pthread) or set LEM_PYTHON" });
  const harness = run(python, ["-c", "import lem_harness"], { ...process.env, PYTHONPATH: HARNESS_DIR });
  checks.push({ name: "harness", ok: harness.ok, value: harness.ok ? HARNESS_DIR : harness.text.split("\n").pop() ?? "", fix: "reinstall lem: docker/harness is missing" });
  const hw = detectHardware();
  checks.push({ name: "hardware", ok: true, value: hw.gpu ? `${hw.gpu}; ${hw.cpu}` : `${hw.cpu} (no NVIDIA GPU: energy is null on CPU without RAPL)` });
  const docker = run("docker", ["version", "--format", "client {{.Client.Version}}, daemon {{.Server.Version}}"]);
  checks.push({ name: "docker", ok: docker.ok, value: docker.ok ? docker.text : docker.text.split("\n").pop() || "not found",
    fix: "install docker.io and start dockerd (only needed for the docker runners)" });
  if (docker.ok) {
    const runtimes = run("docker", ["info", "--format", "{{json .Runtimes}}"]);
    const nvidia = runtimes.ok && runtimes.text.includes("nvidia");
    checks.push({ name: "gpu runtime", ok: nvidia || !hw.gpu, value: nvidia ? "nvidia runtime present" : `no NVIDIA runtime${hw.gpu ? "" : " (not needed: no GPU)"}`,
      fix: "install the NVIDIA Container Toolkit and restart dockerd" });
    const images = run("docker", ["images", "--filter", "reference=lem-*", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"]);
    const list = images.ok ? images.text.split("\n").filter(Boolean) : [];
    checks.push({ name: "images", ok: true, value: list.length ? list.join(", ") : "none yet (lem build makes them on first use)" });
  }
  const compose2 = run("docker", ["compose", "version", "--short"]);
  const compose1 = run("docker-compose", ["version", "--short"]);
  checks.push({ name: "compose", ok: compose2.ok || compose1.ok, value: compose2.ok ? `v2 ${compose2.text}` : compose1.ok ? `v1 ${compose1.text}` : "not found",
    fix: "install docker-compose (only needed for the persistent strategy)" });
  // lem can measure when either runner works: the local one (Python + torch + harness) or Docker.
  const byName = (name: string) => checks.find((c) => c.name === name)?.ok ?? false;
  const usable = (byName("python + torch") && byName("harness")) || byName("docker");
  if (values.json) { out(JSON.stringify({ checks, usable })); return usable ? 0 : 1; }
  for (const c of checks) out(`${c.ok ? "ok  " : "--  "} ${c.name.padEnd(15)} ${c.value}${!c.ok && c.fix ? `\n     ${"".padEnd(15)} fix: ${c.fix}` : ""}`);
  return usable ? 0 : 1;
}
