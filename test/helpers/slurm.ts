// A fresh single-node Slurm cluster (Debian slurm-wlm + munge) in a temp state folder, as root, no
// systemd: a private munged, slurmctld and slurmd on non-default ports, so it never meets a real cluster's daemons.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { cpus, hostname } from "node:os";
import { join } from "node:path";
import { tempDir } from "./temp.js";

export interface SlurmCluster {
  /** SLURM_CONF for every client command. */
  conf: string;
  /** Environment that points client commands (and lem) at this cluster. */
  env: NodeJS.ProcessEnv;
  /** The jobcomp/filetxt file: one permanent line per finished job. */
  jobcomp: string;
  squeue(): string;
  /** scontrol's output, for what a job recorded. */
  scontrol(...args: string[]): string;
  stop(): void;
}

/** Missing slurm-wlm/munge or not root: the reason the Slurm tests skip; under LEM_REQUIRE_SLURM=1 a failure. */
export function slurmMissing(): string | undefined {
  for (const bin of ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/bin/sbatch"]) {
    if (!existsSync(bin)) return `${bin} is not installed (apt-get install slurm-wlm munge)`;
  }
  if (process.getuid?.() !== 0) return "the single-node test cluster runs as root";
  return undefined;
}

/** Skips loudly, or fails under CI's LEM_REQUIRE_SLURM=1. */
export function requireSlurm(file: string): boolean {
  const missing = slurmMissing();
  if (!missing) return true;
  if (process.env.LEM_REQUIRE_SLURM === "1") throw new Error(`${file}: LEM_REQUIRE_SLURM=1 but ${missing}`);
  console.warn(`\n  SKIPPED ${file}: ${missing}\n`);
  return false;
}

const run = (cmd: string, args: string[], env?: NodeJS.ProcessEnv) => spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, timeout: 30_000 });

/** A fresh single-node cluster; `extra` lines go into its slurm.conf (e.g. MaxArraySize=4). */
export function startCluster(extra: string[] = []): SlurmCluster {
  const dir = tempDir("lem-slurm-");
  chmodSync(dir, 0o755);
  const munge = join(dir, "munge");
  mkdirSync(munge, { mode: 0o755 });
  chmodSync(munge, 0o755); // munged refuses a socket folder others cannot enter
  const key = join(munge, "munge.key");
  writeFileSync(key, randomBytes(1024), { mode: 0o400 });
  const socket = join(munge, "munge.socket");
  const m = run("/usr/sbin/munged", ["--force", `--key-file=${key}`, `--socket=${socket}`, `--pid-file=${join(munge, "munged.pid")}`,
    `--log-file=${join(munge, "munged.log")}`, `--seed-file=${join(munge, "munged.seed")}`]);
  if (m.status !== 0) throw new Error(`munged failed: ${m.stderr}`);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const node = hostname().split(".")[0];
  const conf = join(dir, "slurm.conf");
  const jobcomp = join(dir, "jobcomp.txt");
  const state = join(dir, "state");
  mkdirSync(state);
  mkdirSync(join(dir, "spool"));
  writeFileSync(conf, [
    "ClusterName=lemtest", `SlurmctldHost=${node}(127.0.0.1)`, `SlurmctldPort=${port}`, `SlurmdPort=${port + 1}`,
    `AuthType=auth/munge`, `AuthInfo=socket=${socket}`, "CredType=cred/munge", "SlurmUser=root", "SlurmdUser=root",
    `StateSaveLocation=${state}`, `SlurmdSpoolDir=${join(dir, "spool")}`,
    `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`, `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
    `SlurmctldLogFile=${join(dir, "slurmctld.log")}`, `SlurmdLogFile=${join(dir, "slurmd.log")}`,
    "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core",
    "SchedulerParameters=sched_interval=1,bf_interval=1", "MinJobAge=300", "ReturnToService=2", "MpiDefault=none",
    "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
    "JobCompType=jobcomp/filetxt", `JobCompLoc=${jobcomp}`, "InactiveLimit=0", "KillWait=5",
    `NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus().length} State=UNKNOWN`,
    `PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP`, ...extra, "",
  ].join("\n"));
  const env = { SLURM_CONF: conf };
  for (const [daemon, args] of [["/usr/sbin/slurmctld", ["-i"]], ["/usr/sbin/slurmd", []]] as const) {
    const r = run(daemon, [...args], env);
    if (r.status !== 0) throw new Error(`${daemon} failed: ${r.stderr}\n${tryRead(join(dir, daemon.endsWith("ctld") ? "slurmctld.log" : "slurmd.log"))}`);
  }
  // Ready when the node is idle.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const s = run("sinfo", ["-h", "-o", "%t"], env);
    if (s.status === 0 && /idle/.test(s.stdout)) break;
    if (Date.now() > deadline) throw new Error(`the test cluster did not come up: ${s.stdout}${s.stderr}\n${tryRead(join(dir, "slurmctld.log")).slice(-2000)}`);
    spawnSync("sleep", ["0.2"]);
  }
  const cluster: SlurmCluster = {
    conf, env, jobcomp,
    squeue: () => run("squeue", ["-h", "-o", "%i %T"], env).stdout.trim(),
    scontrol: (...args) => run("scontrol", args, env).stdout.trim(),
    stop: () => {
      for (const pidFile of ["slurmd.pid", "slurmctld.pid", "munge/munged.pid"]) {
        const pid = Number(tryRead(join(dir, pidFile)).trim());
        if (pid > 0) try { process.kill(pid, "SIGTERM"); } catch { /* gone */ }
      }
      spawnSync("sleep", ["1"]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}

function tryRead(path: string): string {
  try { return readFileSync(path, "utf8"); } catch { return ""; }
}
