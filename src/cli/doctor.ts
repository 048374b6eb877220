import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { parse } from "./args.js";
import { out } from "./output.js";
import { detectHardware } from "../exec/hardware.js";
import { HARNESS_DIR } from "../paths.js";
import { VERSION } from "./version.js";
import { resolvePython, describePython, lemVenv, venvComplete } from "../config/python.js";
import { loadUserConfig } from "../config/user-config.js";
import { machineSettings } from "../project/settings.js";
import { dockerBinary } from "../exec/docker/docker-cli.js";
import { detectGpus } from "../exec/devices.js";
import { describeEnergy, raplSummary } from "../exec/energy-source.js";

export const DOCTOR_HELP = `lem doctor — what lem finds on this machine: Node, Python and torch, Docker, GPUs

  --lemfile PATH   the project whose .lem-config.yaml names the Python (default ./lemfile.ts)
  --json           print the checks as JSON, with "settings": {"<name>": {"value", "source"}}
`;

interface Check { name: string; ok: boolean; value: string; fix?: string }

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000, env: env ?? process.env });
  return { ok: r.status === 0, text: (r.status === 0 ? r.stdout : r.stderr || r.error?.message || "").trim() };
}

export async function doctorCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: "boolean" }, lemfile: { type: "string" }, help: { type: "boolean", short: "h" } }, "doctor");
  if (values.help) { out(DOCTOR_HELP); return 0; }
  // The same Python lem build would use: LEM_PYTHON, the project's .lem-config.yaml, then one with torch.
  const user = loadUserConfig(dirname(resolve(values.lemfile ?? "lemfile.ts")));
  const resolved = resolvePython(user);
  const python = resolved.python;
  const docker = dockerBinary();
  const checks: Check[] = [];
  checks.push({ name: "lem", ok: true, value: `${VERSION} (node ${process.version})` });
  const py = run(python, ["-c", "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda' if torch.cuda.is_available() else 'cpu-only')"]);
  checks.push({ name: "python + torch", ok: py.ok, value: `${describePython(resolved)}: ${py.ok ? py.text : py.text.split("\n").pop()}`,
    fix: "run `npx lem setup` (it makes lem's venv), or point LEM_PYTHON at a Python with torch" });
  // Only Hugging Face models need it: synthetic:<preset> ones run on torch alone, so its absence is not a failure.
  const hf = run(python, ["-c", "import transformers; print(transformers.__version__)"]);
  checks.push({ name: "transformers", ok: true, value: hf.ok ? hf.text : "not installed (only synthetic:<preset> models can run; `npx lem setup` makes lem's venv with it)" });
  const venv = lemVenv();
  checks.push({ name: "lem venv", ok: true, value: venvComplete(venv) ? `${venv.dir}${resolved.python === venv.python ? " (in use)" : ` (not in use: ${describePython(resolved)} comes first)`}`
    : `not made (${venv.dir}; \`npx lem setup\` makes it where no Python has torch, \`npx lem setup --venv\` always)` });
  const harness = run(python, ["-c", "import lem_harness"], { ...process.env, PYTHONPATH: HARNESS_DIR });
  checks.push({ name: "harness", ok: harness.ok, value: harness.ok ? HARNESS_DIR : harness.text.split("\n").pop() ?? "", fix: "reinstall lem: docker/harness is missing" });
  const hw = detectHardware();
  checks.push({ name: "hardware", ok: true, value: hw.gpu ? `${hw.gpu}; ${hw.cpu}` : `${hw.cpu} (no NVIDIA GPU)` });
  // Not a failure (lem still measures throughput and latency), but never an "ok" where energy will be null.
  checks.push({ name: "energy", ...describeEnergy({ gpu: hw.gpu, rapl: raplSummary() }) });
  const gpus = detectGpus();
  if (gpus.length) checks.push({ name: "gpus (--gpus)", ok: true, value: gpus.map((g) => `${g.index}${g.uuid ? ` ${g.uuid}` : ""}${g.name ? ` ${g.name}` : ""}`).join("; ") });
  const daemon = run(docker, ["version", "--format", "client {{.Client.Version}}, daemon {{.Server.Version}}"]);
  checks.push({ name: "docker", ok: daemon.ok, value: daemon.ok ? daemon.text : daemon.text.split("\n").pop() || "not found",
    fix: "install docker.io and start dockerd (only needed for the docker runners)" });
  if (daemon.ok) {
    const runtimes = run(docker, ["info", "--format", "{{json .Runtimes}}"]);
    const nvidia = runtimes.ok && runtimes.text.includes("nvidia");
    checks.push({ name: "gpu runtime", ok: nvidia || !hw.gpu, value: nvidia ? "nvidia runtime present" : `no NVIDIA runtime${hw.gpu ? "" : " (not needed: no GPU)"}`,
      fix: "install the NVIDIA Container Toolkit and restart dockerd" });
    const images = run(docker, ["images", "--filter", "reference=lem-*", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"]);
    const list = images.ok ? images.text.split("\n").filter(Boolean) : [];
    checks.push({ name: "images", ok: true, value: list.length ? list.join(", ") : "none yet (lem build makes them on first use)" });
  }
  const compose2 = run(docker, ["compose", "version", "--short"]);
  const compose1 = run("docker-compose", ["version", "--short"]);
  checks.push({ name: "compose", ok: compose2.ok || compose1.ok, value: compose2.ok ? `v2 ${compose2.text}` : compose1.ok ? `v1 ${compose1.text}` : "not found",
    fix: "install docker-compose (only needed for the persistent strategy)" });
  // lem can measure when either runner works: the local one (Python + torch + harness) or Docker.
  const byName = (name: string) => checks.find((c) => c.name === name)?.ok ?? false;
  const usable = (byName("python + torch") && byName("harness")) || byName("docker");
  const settings = machineSettings(user);
  if (values.json) { out(JSON.stringify({ checks, usable, python: { path: python, source: resolved.source }, settings })); return usable ? 0 : 1; }
  for (const c of checks) out(`${c.ok ? "ok  " : "--  "} ${c.name.padEnd(15)} ${c.value}${!c.ok && c.fix ? `\n     ${"".padEnd(15)} fix: ${c.fix}` : ""}`);
  out("\nsettings (value, and where it came from):");
  for (const [name, s] of Object.entries(settings)) out(`     ${name.padEnd(15)} ${JSON.stringify(s.value)}  (${s.source})`);
  return usable ? 0 : 1;
}
