"""bench/gpu-check: the harness's GPU energy path, run for real on a host with an NVIDIA GPU.

Only Python and what is installed there (torch; transformers for the second model and for transformers
serve; vllm where present; NVML through the harness's own ctypes binding): no Node, no Docker, no
network. Two models, each measured with a window of at least --min-window seconds (n is raised and the
run repeated when a window comes out shorter):

  1. synthetic:1b in bf16: the harness's own Llama-3.2-1B-shaped decoder with random weights;
  2. a Hugging Face LlamaForCausalLM of the same shape with random weights, saved to a temporary folder by
     lem_harness.models.hf_folder (as CI's HF tests do), then loaded by the harness like any local model.

Then a serving run (scenario serving, through the harness's own entry, run_experiment → run_serving) per
engine and rate: a --serving-model synthetic preset (random weights, saved once by the harness's
model_cache) served on the GPU by `transformers serve --continuous-batching` where transformers'
serving extra is importable, and by `vllm serve` where vllm imports, --serving-requests Poisson
requests at each of --serving-rates, energy by NVML. The serving runs go first, while this process
holds no CUDA context, so the server has the GPU's memory to itself.

Prints J/token, tokens/s, the window, the baseline, the devices measured (UUIDs), the GPU's power limit
and clocks, and counter vs integrated energy; for serving, the server's start-up, the steady-state
window, J/token, J/request mean/p90, TTFT/TPOT p50/p90, throughput and the arrival error p99. --out DIR
also keeps each full result document; --dry-run prints the runs it would make (and why any would be
skipped) without a GPU. Exit 0 when every run's energy was measured and no result carries a validity
flag (VALIDITY_FLAGS), 1 when one does or a serving run failed (each is printed), 2 when there is no
CUDA GPU, a model cannot be built, or a serving engine asked for is absent here (skipped: not a pass;
--serving-engines names the ones to run).
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from typing import List, Optional, Sequence, Tuple, Union

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "docker", "harness"))
# As lem's images and local runs set it, so a CUDA index and an NVML index name the same card.
os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")


# Flags that say a figure is wrong or unverified, not merely qualified (a short window, throttling, 1 s
# power averages and MIG's whole-GPU energy qualify figures and are printed, but pass): any of these
# fails the check. The one list; the harness raises each (tests/test_nvml.py checks that it still does).
VALIDITY_FLAGS = (
    "energy_unavailable",  # no energy figure at all
    "energy_cross_check_mismatch",  # the counter and the integrated power timeline disagree beyond tolerance
    "zero_energy_reading",  # an energy counter did not advance over the window
    "zero_baseline_reading",  # idle power read as 0 W or less
    "negative_adjusted_energy",  # the baseline exceeds the window's energy
    "power_timeline_incomplete",  # power readings failed during the window
    "hardware_mismatch",  # measured on other hardware than planned
    "device_order_unverified",  # the GPU metered may not be the one CUDA ran on
)


def validity_flags(result: dict) -> List[str]:
    """The result's validity flags, in VALIDITY_FLAGS order; energy not measured counts as energy_unavailable."""
    flags = set(result.get("quality_flags", []))
    if (result.get("energy") or {}).get("status") != "measured":
        flags.add("energy_unavailable")
    return [f for f in VALIDITY_FLAGS if f in flags]


def verdict(results: Sequence[Tuple[str, dict]], skipped: Sequence[Tuple[str, str]] = (),
            failed: Sequence[Tuple[str, str]] = ()) -> Tuple[int, List[str]]:
    """(exit status, one line per result with validity flags, per run that failed and per run skipped):
    1 when a result has validity flags or a run failed; else 2 when a run was skipped (nothing measured
    is no pass); else 0."""
    lines = [f"gpu-check: {label}: validity flags {', '.join(flags)}"
             for label, flags in ((label, validity_flags(r)) for label, r in results) if flags]
    lines += [f"gpu-check: {label}: failed: {why}" for label, why in failed]
    status = 1 if lines else 0
    lines += [f"gpu-check: {label}: skipped: {why}" for label, why in skipped]
    if status == 0 and skipped:
        status = 2
    return status, lines


def build_hf_llama(folder: str) -> str:
    """The 1b preset as a Hugging Face folder with random weights: the same builder CI's HF tests use."""
    from lem_harness.models.hf_folder import save_random_llama

    return save_random_llama(folder, preset="1b", seed=0, dtype="bfloat16", device="cuda")


def baseline_section(args) -> dict:
    return {"enabled": True, "duration_seconds": args.baseline, "placement": args.placement,
            "cooldown_seconds": args.cooldown}


def config_for(model: str, args, n: int) -> dict:
    from lem_harness.config import with_defaults

    return with_defaults({
        "model": model, "backend": "pytorch", "n": n, "precision": "bf16", "max_input_tokens": args.input_tokens,
        "max_output_tokens": args.output_tokens, "warmup": {"enabled": True, "n_warmup": args.batch_size},
        "baseline": baseline_section(args),
        "energy": {"backend": "nvml", "sample_interval_ms": 100},
        "pytorch": {"batch_size": args.batch_size, "device": "cuda", "attn_implementation": "sdpa", "num_threads": None},
    })


def measure(label: str, model: str, args) -> dict:
    """run_experiment with n raised until the window reaches --min-window (at most three tries)."""
    from lem_harness.experiment import run_experiment

    n = args.n
    for _ in range(3):
        config = config_for(model, args, n)
        result = run_experiment({"hash": "gpu-check", "cycle": 1, "names": [label], "config": config})
        window = result["energy"]["window_s"]
        if window >= args.min_window:
            return result
        n = max(n + args.batch_size, math.ceil(n * args.min_window * 1.2 / window / args.batch_size) * args.batch_size)
        print(f"[gpu-check] {label}: window {window:.1f} s < {args.min_window} s, again with n={n}", file=sys.stderr)
    return result


# ----- serving -----

SERVING_ENGINES = ("transformers", "vllm")
SERVING_WARMUP = 4  # warmup requests before each load (at most --serving-requests)
KV_BLOCK = 32  # transformers serve's KV block, in tokens
Rate = Union[float, str]  # requests/s, or "inf" (the serving section's request_rate)


def parse_rates(text: str) -> List[Rate]:
    """"4,16,inf" -> [4.0, 16.0, "inf"]."""
    rates: List[Rate] = []
    for part in (p.strip() for p in text.split(",")):
        if part == "inf":
            rates.append("inf")
            continue
        try:
            value = float(part)
        except ValueError:
            value = math.nan
        if not 0 < value < math.inf:
            raise argparse.ArgumentTypeError(f"a rate is a positive number of requests/s or inf, got {part!r}")
        rates.append(value)
    return rates


def parse_engines(text: str) -> List[str]:
    engines = [e.strip() for e in text.split(",") if e.strip()]
    unknown = [e for e in engines if e not in SERVING_ENGINES]
    if unknown or not engines:
        raise argparse.ArgumentTypeError(f"serving engines are {', '.join(SERVING_ENGINES)}, got {text!r}")
    return engines


def serving_unavailable(engine: str, python: str = sys.executable) -> Optional[str]:
    """Why the engine's server cannot run here; None when it can."""
    if engine == "transformers":
        from lem_harness.serving.server import serve_unavailable

        return serve_unavailable()
    # Imported in a child Python: an import that touched CUDA would leave a context in this process, whose
    # GPU the server is about to take.
    try:
        done = subprocess.run([python, "-c", "import vllm"], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "`import vllm` took more than 300 s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"vllm does not import in {python} ({last})"
    from lem_harness.serving.vllm_server import vllm_executable

    if not vllm_executable(python):
        return f"vllm imports, but there is no `vllm` command beside {python} or on PATH"
    return None


def serving_label(engine: str, rate: Rate) -> str:
    return f"serving-{engine}-rate-{rate:g}" if isinstance(rate, float) else f"serving-{engine}-rate-{rate}"


def serving_config(engine: str, rate: Rate, args) -> dict:
    """One serving run's config: --serving-model on cuda:0 under --serving-requests Poisson requests at rate,
    energy by NVML."""
    from lem_harness.config import with_defaults

    tokens = args.input_tokens + args.output_tokens
    serving = {"request_rate": rate, "num_requests": args.serving_requests,
               "warmup_requests": min(SERVING_WARMUP, args.serving_requests)}
    config = {
        "model": args.serving_model, "scenario": "serving", "precision": "bf16",
        "backend": "vllm" if engine == "vllm" else "pytorch",
        "max_input_tokens": args.input_tokens, "max_output_tokens": args.output_tokens,
        "serving": serving, "baseline": baseline_section(args),
        "energy": {"backend": "nvml", "sample_interval_ms": 100},
    }
    if engine == "vllm":
        # Else vLLM sizes the context from the model's config (131072 tokens for the 1b preset).
        config["vllm"] = {"engine": {"max_model_len": tokens}}
    else:
        # A KV cache that holds every request at once: the batch is the load's, not the cache's.
        serving["engine"] = {"num_blocks": math.ceil(args.serving_requests * tokens / KV_BLOCK), "block_size": KV_BLOCK}
        config["pytorch"] = {"device": "cuda", "attn_implementation": "sdpa", "num_threads": None}
    return with_defaults(config)


def measure_serving(label: str, config: dict) -> dict:
    """One serving run through the harness's own entry (run_experiment: scenario serving → run_serving)."""
    from lem_harness.experiment import run_experiment

    return run_experiment({"hash": f"gpu-check-{label}", "cycle": 1, "names": [label], "config": config})


def serving_runs(args) -> Tuple[List[Tuple[str, dict]], List[Tuple[str, str]]]:
    """([(label, config)] to run, [(label, why)] skipped because the engine is absent here)."""
    runs, skipped = [], []
    for engine in args.serving_engines:
        why = serving_unavailable(engine)
        if why:
            skipped.append((f"serving-{engine}", f"{why}; not a pass (--serving-engines names the engines to run)"))
            continue
        runs += [(serving_label(engine, rate), serving_config(engine, rate, args)) for rate in args.serving_rates]
    return runs, skipped


# ----- reports -----

def fmt(value, spec: str = ".3f", unit: str = "") -> str:
    return "null" if value is None else f"{value:{spec}}{unit}"


def or_reason(text: str, value, reason: Optional[str]) -> str:
    """text, with the reason where the figure it shows is null."""
    return f"{text} ({reason})" if value is None and reason else text


def heading(label: str, result: dict) -> List[str]:
    """The run's title line, the devices measured and their settings."""
    e = result["energy"]
    lines = [f"== {label}: {result['hardware']} ({result['effective_config'].get('dtype')}, "
             f"{result['effective_config'].get('model_source')}) =="]
    for d in e.get("devices", []):
        mig = ""
        if d.get("mig_profile") or d.get("mig_uuids"):
            mig = f", MIG {d.get('mig_profile') or '?'} " + ", ".join(d.get("mig_uuids") or ["(first instance)"])
        lines.append(f"device: cuda:{d['index']} = {d.get('uuid')} ({d.get('name')}{mig})")
    for g in result["environment"].get("gpu_settings") or []:
        clocks = g.get("applications_clocks_mhz") or {}
        default = g.get("default_applications_clocks_mhz") or {}
        lines.append(f"settings: {g.get('uuid')}: power limit {fmt(g.get('power_limit_w'), '.0f', ' W')} "
                     f"(default {fmt(g.get('default_power_limit_w'), '.0f', ' W')}); application clocks SM "
                     f"{clocks.get('sm')}/memory {clocks.get('memory')} MHz (default {default.get('sm')}/{default.get('memory')})")
    return lines


def energy_lines(result: dict) -> List[str]:
    """Counter vs integrated, power, baseline and thermal."""
    e, b = result["energy"], result["baseline"]
    check = e.get("cross_check") or {}
    rel = check.get("relative_difference")
    return [
        f"counter vs integrated: {fmt(e['total_j'], '.1f', ' J')} vs {fmt(check.get('integrated_j'), '.1f', ' J')}, "
        f"relative difference {fmt(None if rel is None else rel * 100, '+.2f', '%')} "
        f"(tolerance {fmt(None if check.get('tolerance') is None else check['tolerance'] * 100, '.1f', '%')})"
        + (f"; {check['reason']}" if check.get("reason") else ""),
        f"power: {e.get('power_reading')}; avg {fmt(e['avg_power_w'], '.1f', ' W')}, peak {fmt(e['peak_power_w'], '.1f', ' W')}; "
        f"samples {e.get('samples')}",
        f"baseline: {fmt(b['power_w'], '.1f', ' W')} over {b['duration_s']:.1f} s, {b.get('placement')}"
        f" (cool-down {b.get('cooldown_s')} s), SM {b.get('sm_clock_mhz')} MHz, {b.get('pstate')}"
        + (f"; {b['reason']}" if b.get("reason") else ""),
        f"thermal: {result['thermal']['temp_before_c']} → {result['thermal']['temp_after_c']} °C, "
        f"throttle reasons {result['thermal']['throttle_reasons']}",
    ]


def verdict_lines(result: dict) -> List[str]:
    """Flags, validity, and the energy block's notes and reason."""
    e = result["energy"]
    invalid = validity_flags(result)
    lines = [f"flags: {', '.join(result['quality_flags']) or 'none'}",
             f"validity: {'FAILED: ' + ', '.join(invalid) if invalid else 'ok'} (fails on any of {', '.join(VALIDITY_FLAGS)})"]
    lines += [f"note: {note}" for note in e.get("notes", [])]
    if e.get("reason"):
        lines.append(f"reason: {e['reason']}")
    return lines


def report(label: str, result: dict) -> str:
    e = result["energy"]
    lines = heading(label, result)
    lines.append(f"window: {e['window_s']:.2f} s; output tokens {result['tokens']['output']}; "
                 f"tokens/s {result['throughput']['output_tokens_per_s']:.1f}")
    lines.append(f"energy: {e['status']} by {e['method']}: total {fmt(e['total_j'], '.1f', ' J')}, "
                 f"J/token {fmt(e['per_output_token_j'], '.4f')}, adjusted {fmt(e['adjusted_j'], '.1f', ' J')}")
    return "\n".join(lines + energy_lines(result) + verdict_lines(result))


def percentiles(name: str, stats: dict, unit: str = " ms") -> str:
    return f"{name} p50 {fmt(stats.get('p50'), '.2f', unit)}, p90 {fmt(stats.get('p90'), '.2f', unit)}"


def serving_report(label: str, result: dict) -> str:
    s, e = result["serving"], result["energy"]
    server, steady, per = s["server"], s["steady_state"], s["energy_per_request_j"]
    window = (f"{steady['duration_s']:.2f} s (t = {steady['start_s']:.2f} to {steady['end_s']:.2f} s), "
              f"{steady['tokens']} tokens" if steady["duration_s"] is not None else "null")
    lines = heading(label, result) + [
        f"server: {server['kind']} ready in {fmt(server['startup_s'], '.1f', ' s')}; B {server['batch']} "
        f"({server['batch_source']})",
        f"load: {s['completed']}/{s['num_requests']} completed, {s['failed']} failed, {s['request_rate']} requests/s "
        f"offered, over {s['duration_s']:.2f} s; peak in flight {s['peak_concurrency']}",
        or_reason(f"steady state: {window}", steady["duration_s"], steady["reason"]),
        or_reason(f"J/token (steady state): {fmt(steady['energy_per_token_j'], '.5f')}",
                  steady["energy_per_token_j"], steady["reason"]),
        or_reason(f"J/request: mean {fmt(per['mean'], '.4f')}, p90 {fmt(per['p90'], '.4f')}", per["mean"], per["reason"]),
        f"{percentiles('TTFT', s['ttft_ms'])}; {percentiles('TPOT', s['tpot_ms'])}",
        f"throughput: {fmt(s['output_throughput'], '.1f')} output tokens/s, {fmt(s['request_throughput'], '.2f')} "
        f"requests/s (no goodput: {s['goodput']['reason']})",
        f"arrival error p99: {fmt(s['arrival_error_ms']['p99'], '.2f', ' ms')} (sent - scheduled)",
        f"energy, whole load: {e['status']} by {e['method']}: total {fmt(e['total_j'], '.1f', ' J')} over "
        f"{e['window_s']:.2f} s",
    ]
    return "\n".join(lines + energy_lines(result) + verdict_lines(result))


def keep(args, label: str, result: dict) -> None:
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, f"{label.replace(':', '-')}.json"), "w") as f:
            json.dump(result, f, indent=1)


# ----- main -----

def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=16, help="prompts per model to start with (raised for the window)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--input-tokens", type=int, default=128)
    parser.add_argument("--output-tokens", type=int, default=256)
    parser.add_argument("--min-window", type=float, default=10.0)
    parser.add_argument("--baseline", type=float, default=5.0, help="baseline seconds")
    parser.add_argument("--placement", choices=["before_warmup", "after_warmup"], default="after_warmup")
    parser.add_argument("--cooldown", type=float, default=3.0)
    parser.add_argument("--only", choices=["synthetic", "hf", "serving"], help="run one model, or the serving runs, only")
    parser.add_argument("--serving-model", default="synthetic:small", help="what the serving runs serve")
    parser.add_argument("--serving-engines", type=parse_engines, default=list(SERVING_ENGINES),
                        help="comma-separated: transformers, vllm (default both; one absent here is skipped, "
                             "and a skip exits 2)")
    parser.add_argument("--serving-rates", type=parse_rates, default=parse_rates("4,16,inf"),
                        help="requests/s, comma-separated (inf: all at once); one server per engine and rate")
    parser.add_argument("--serving-requests", type=int, default=32, help="requests per serving run")
    parser.add_argument("--dry-run", action="store_true", help="print the runs it would make and exit")
    parser.add_argument("--out", help="folder for the full result documents")
    return parser.parse_args(argv)


def offline_runs(args, tmp: str) -> list:
    runs = []
    if args.only in (None, "synthetic"):
        runs.append(("synthetic:1b", lambda: "synthetic:1b"))
    if args.only in (None, "hf"):
        runs.append(("hf-llama-1b-random", lambda: build_hf_llama(os.path.join(tmp, "hf-llama"))))
    return runs


def planned_serving(args) -> Tuple[List[Tuple[str, dict]], List[Tuple[str, str]]]:
    return serving_runs(args) if args.only in (None, "serving") else ([], [])


def dry_run(args, serving: Sequence[Tuple[str, dict]], skipped: Sequence[Tuple[str, str]]) -> int:
    for label, config in serving:
        print(f"would run {label}: {config['model']} on {config['backend']} ({config['serving']})")
    for label, why in skipped:
        print(f"SKIPPED {label}: {why}")
    for label, _ in offline_runs(args, "<temporary folder>"):
        print(f"would run {label}")
    print("dry run: nothing measured")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        return dry_run(args, *planned_serving(args))
    try:
        import torch
    except ImportError:
        print("gpu-check: torch is not installed; it needs torch with CUDA (and transformers for the HF model)", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("gpu-check: no CUDA GPU here (torch.cuda.is_available() is False); run it on a host with an NVIDIA GPU",
              file=sys.stderr)
        return 2

    from lem_harness.errors import HarnessError

    serving, skipped = planned_serving(args)
    results, failed = [], []
    for label, why in skipped:
        print(f"== {label}: SKIPPED: {why} ==", flush=True)
    # Serving first: this process holds no CUDA context yet, so the server has the GPU's memory to itself.
    for label, config in serving:
        try:
            result = measure_serving(label, config)
        except HarnessError as e:  # the server failed to start or died: the message has its log's tail
            print(f"== {label}: FAILED: {e.message} ==", flush=True)
            failed.append((label, e.message.splitlines()[0]))
            continue
        print(serving_report(label, result), flush=True)
        results.append((label, result))
        keep(args, label, result)
    tmp = tempfile.mkdtemp(prefix="lem-gpu-check-")
    try:
        for label, model in offline_runs(args, tmp):
            try:
                path = model()
            except HarnessError as e:  # transformers or tokenizers missing: the message names the fix
                print(f"gpu-check: {label}: {e.message}", file=sys.stderr)
                return 2
            result = measure(label, path, args)
            print(report(label, result), flush=True)
            results.append((label, result))
            keep(args, label, result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    status, lines = verdict(results, skipped, failed)
    for line in lines:
        print(line, file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
