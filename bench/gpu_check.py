"""bench/gpu-check: the harness's GPU energy path, run for real on a host with an NVIDIA GPU.

Only Python and what is installed there (torch; transformers for the second model; NVML through the
harness's own ctypes binding): no Node, no Docker, no network. Two models, each measured with a window
of at least --min-window seconds (n is raised and the run repeated when a window comes out shorter):

  1. synthetic:1b in bf16: the harness's own Llama-3.2-1B-shaped decoder with random weights;
  2. a Hugging Face LlamaForCausalLM of the same shape with random weights, saved to a temporary folder by
     lem_harness.models.hf_folder (as CI's HF tests do), then loaded by the harness like any local model.

Prints J/token, tokens/s, the window, the baseline, the devices measured (UUIDs), the GPU's power limit
and clocks, and counter vs integrated energy; --out DIR also keeps each full result document. Exit 0
when every model's energy was measured and no result carries a validity flag (VALIDITY_FLAGS), 1 when
one does (each is printed), 2 when there is no CUDA GPU or a model cannot be built.
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from typing import List, Sequence, Tuple

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


def verdict(results: Sequence[Tuple[str, dict]]) -> Tuple[int, List[str]]:
    """(exit status, one line per result with validity flags): 0 when none has any, else 1."""
    lines = [f"gpu-check: {label}: validity flags {', '.join(flags)}"
             for label, flags in ((label, validity_flags(r)) for label, r in results) if flags]
    return (1 if lines else 0), lines


def build_hf_llama(folder: str) -> str:
    """The 1b preset as a Hugging Face folder with random weights: the same builder CI's HF tests use."""
    from lem_harness.models.hf_folder import save_random_llama

    return save_random_llama(folder, preset="1b", seed=0, dtype="bfloat16", device="cuda")


def config_for(model: str, args, n: int) -> dict:
    from lem_harness.config import with_defaults

    return with_defaults({
        "model": model, "backend": "pytorch", "n": n, "precision": "bf16", "max_input_tokens": args.input_tokens,
        "max_output_tokens": args.output_tokens, "warmup": {"enabled": True, "n_warmup": args.batch_size},
        "baseline": {"enabled": True, "duration_seconds": args.baseline, "placement": args.placement,
                     "cooldown_seconds": args.cooldown},
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


def fmt(value, spec: str = ".3f", unit: str = "") -> str:
    return "null" if value is None else f"{value:{spec}}{unit}"


def report(label: str, result: dict) -> str:
    e, b = result["energy"], result["baseline"]
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
    lines.append(f"window: {e['window_s']:.2f} s; output tokens {result['tokens']['output']}; "
                 f"tokens/s {result['throughput']['output_tokens_per_s']:.1f}")
    lines.append(f"energy: {e['status']} by {e['method']}: total {fmt(e['total_j'], '.1f', ' J')}, "
                 f"J/token {fmt(e['per_output_token_j'], '.4f')}, adjusted {fmt(e['adjusted_j'], '.1f', ' J')}")
    check = e.get("cross_check") or {}
    rel = check.get("relative_difference")
    lines.append(f"counter vs integrated: {fmt(e['total_j'], '.1f', ' J')} vs {fmt(check.get('integrated_j'), '.1f', ' J')}, "
                 f"relative difference {fmt(None if rel is None else rel * 100, '+.2f', '%')} "
                 f"(tolerance {fmt(None if check.get('tolerance') is None else check['tolerance'] * 100, '.1f', '%')})"
                 + (f"; {check['reason']}" if check.get("reason") else ""))
    lines.append(f"power: {e.get('power_reading')}; avg {fmt(e['avg_power_w'], '.1f', ' W')}, peak {fmt(e['peak_power_w'], '.1f', ' W')}; "
                 f"samples {e.get('samples')}")
    lines.append(f"baseline: {fmt(b['power_w'], '.1f', ' W')} over {b['duration_s']:.1f} s, {b.get('placement')}"
                 f" (cool-down {b.get('cooldown_s')} s), SM {b.get('sm_clock_mhz')} MHz, {b.get('pstate')}"
                 + (f"; {b['reason']}" if b.get("reason") else ""))
    lines.append(f"thermal: {result['thermal']['temp_before_c']} → {result['thermal']['temp_after_c']} °C, "
                 f"throttle reasons {result['thermal']['throttle_reasons']}")
    lines.append(f"flags: {', '.join(result['quality_flags']) or 'none'}")
    invalid = validity_flags(result)
    lines.append(f"validity: {'FAILED: ' + ', '.join(invalid) if invalid else 'ok'} (fails on any of {', '.join(VALIDITY_FLAGS)})")
    for note in e.get("notes", []):
        lines.append(f"note: {note}")
    if e.get("reason"):
        lines.append(f"reason: {e['reason']}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=16, help="prompts per model to start with (raised for the window)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--input-tokens", type=int, default=128)
    parser.add_argument("--output-tokens", type=int, default=256)
    parser.add_argument("--min-window", type=float, default=10.0)
    parser.add_argument("--baseline", type=float, default=5.0, help="baseline seconds")
    parser.add_argument("--placement", choices=["before_warmup", "after_warmup"], default="after_warmup")
    parser.add_argument("--cooldown", type=float, default=3.0)
    parser.add_argument("--only", choices=["synthetic", "hf"], help="run one model only")
    parser.add_argument("--out", help="folder for the full result documents")
    args = parser.parse_args()

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

    runs = []
    if args.only in (None, "synthetic"):
        runs.append(("synthetic:1b", lambda: "synthetic:1b"))
    tmp = tempfile.mkdtemp(prefix="lem-gpu-check-")
    if args.only in (None, "hf"):
        runs.append(("hf-llama-1b-random", lambda: build_hf_llama(os.path.join(tmp, "hf-llama"))))
    results = []
    try:
        for label, model in runs:
            try:
                path = model()
            except HarnessError as e:  # transformers or tokenizers missing: the message names the fix
                print(f"gpu-check: {label}: {e.message}", file=sys.stderr)
                return 2
            result = measure(label, path, args)
            print(report(label, result), flush=True)
            results.append((label, result))
            if args.out:
                os.makedirs(args.out, exist_ok=True)
                with open(os.path.join(args.out, f"{label.replace(':', '-')}.json"), "w") as f:
                    json.dump(result, f, indent=1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    status, lines = verdict(results)
    for line in lines:
        print(line, file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
