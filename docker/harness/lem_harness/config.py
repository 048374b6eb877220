"""The experiment config as received, with schema defaults filled in where the host left a field out."""

import copy

DEFAULTS = {
    "backend": "pytorch",
    "n": 100,
    "dataset": "synthetic",
    "precision": "bf16",
    "random_seed": 42,
    "max_input_tokens": 256,
    "max_output_tokens": 128,
    "decoder": {
        "temperature": 1.0, "do_sample": True, "top_k": 50, "top_p": 1.0,
        "repetition_penalty": 1.0, "ignore_eos": True,
    },
    "warmup": {"enabled": True, "n_warmup": 3},
    "baseline": {"enabled": True, "duration_seconds": 30},
    "energy": {"backend": "auto", "sample_interval_ms": 100},
}
# baseline.placement and baseline.cooldown_seconds came after results were keyed by hash, so the schema
# gives them no default (one would re-key every stored result): absent means these, as the schema says.
BASELINE_PLACEMENT_WHEN_ABSENT = "before_warmup"
BASELINE_COOLDOWN_S_WHEN_ABSENT = 10
PYTORCH_DEFAULTS = {"batch_size": 1, "device": "auto", "attn_implementation": "sdpa", "num_threads": None}
VLLM_DEFAULTS = {
    "engine": {
        "max_num_seqs": 256, "gpu_memory_utilization": 0.9, "tensor_parallel_size": 1,
        "enforce_eager": False, "max_model_len": None, "enable_prefix_caching": False,
    },
    "sampling": {"min_tokens": None, "presence_penalty": 0, "frequency_penalty": 0},
}


def _merge(defaults: dict, given: dict) -> dict:
    out = copy.deepcopy(given)
    for key, value in defaults.items():
        if key not in out:
            out[key] = copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = _merge(value, out[key])
    return out


def with_defaults(config: dict) -> dict:
    """The host applies defaults before hashing; this only guards against a partial config."""
    from .errors import ConfigError

    if not isinstance(config, dict) or not isinstance(config.get("model"), str) or not config["model"]:
        raise ConfigError("config.model must be a non-empty string")
    full = _merge(DEFAULTS, config)
    if full["backend"] == "pytorch":
        full = _merge({"pytorch": PYTORCH_DEFAULTS}, full)
    elif full["backend"] == "vllm":
        full = _merge({"vllm": VLLM_DEFAULTS}, full)
    else:
        raise ConfigError(f"unknown backend {full['backend']!r}; expected pytorch or vllm")
    return full
