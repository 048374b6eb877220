"""The experiment config as received, with schema defaults filled in where the host left a field out."""

import copy

from .schema_defaults import DEFAULTS as SCHEMA_DEFAULTS, SECTION_DEFAULTS

# The schema's defaults (schemas/experiment.schema.json, written out by scripts/generate-harness-defaults.ts),
# less dataset_sha256: lem sets it from the dataset file's bytes (null for synthetic prompts), never the harness.
DEFAULTS = {key: value for key, value in SCHEMA_DEFAULTS.items() if key != "dataset_sha256"}
# Not in schema_defaults, and rightly: baseline.placement and baseline.cooldown_seconds came after results
# were keyed by hash, so the schema gives them no `default` (one would re-key every stored result), only a
# description ("Absent means before_warmup", "Absent means 10"); test/harness-defaults.test.ts holds these
# to what the schema says.
BASELINE_PLACEMENT_WHEN_ABSENT = "before_warmup"
BASELINE_COOLDOWN_S_WHEN_ABSENT = 10


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
    if full["backend"] not in ("pytorch", "vllm"):
        raise ConfigError(f"unknown backend {full['backend']!r}; expected pytorch or vllm")
    # The backend's own section, as lem creates it before hashing (src/config/expand.ts).
    return _merge({full["backend"]: SECTION_DEFAULTS[full["backend"]]}, full)
