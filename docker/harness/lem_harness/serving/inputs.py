"""scenario serving's inputs: the serving section with its defaults, the device, the decoding settings a
server takes, the model's tokenizer and size, and the prompts."""


import math
import os
import tempfile
from typing import List, Optional, Tuple

from ..config import _merge
from ..env import lem_env
from ..errors import ConfigError, ModelUnavailable
from ..schema_defaults import SECTION_DEFAULTS




def serving_section(config: dict) -> dict:
    """config.serving with the schema's defaults where the host left a field out."""
    given = config.get("serving")
    if not isinstance(given, dict) or "request_rate" not in given:
        raise ConfigError("scenario serving needs a serving section with request_rate (schemas/experiment.schema.json)")
    section = _merge(SECTION_DEFAULTS.get("serving", {}), given)
    rate = section["request_rate"]
    if rate == "inf":
        section["rate"] = math.inf
    elif isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate > 0:
        section["rate"] = float(rate)
    else:
        raise ConfigError(f"serving.request_rate must be a positive number or \"inf\", got {rate!r}")
    for key in ("num_requests", "warmup_requests"):
        value = section[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "num_requests" else 0):
            raise ConfigError(f"serving.{key} must be a {'positive' if key == 'num_requests' else 'non-negative'} "
                              f"integer, got {value!r}")
    return section


def server_log_path(envelope: dict, environ=None) -> str:
    """<hash>_server.log beside the config (the exchange dir lem keeps when a node fails); a temp file
    where the harness runs without one."""
    config_path = lem_env("CONFIG_PATH", environ)
    name = f"{envelope.get('hash') or 'unknown'}_server.log"
    if config_path:
        folder = os.path.dirname(os.path.abspath(config_path))
        if os.access(folder, os.W_OK):
            return os.path.join(folder, name)
    return os.path.join(tempfile.gettempdir(), f"lem-{os.getpid()}-{name}")


def resolve_device(config: dict) -> Tuple[str, List[int]]:
    """("cpu" or "cuda", CUDA ordinals the server uses)."""
    if config["backend"] == "vllm":
        return "cuda", list(range(config["vllm"]["engine"]["tensor_parallel_size"]))
    requested = config["pytorch"]["device"]
    if requested == "cpu":
        return "cpu", []
    import torch  # never initialises a CUDA context here: is_available only counts devices

    if torch.cuda.is_available():
        return "cuda", [0]
    if requested == "cuda":
        from ..errors import DeviceUnavailable

        raise DeviceUnavailable(f"pytorch.device is cuda but torch {torch.__version__} sees no CUDA device; "
                                "use a GPU image with --gpus, or device cpu/auto")
    return "cpu", []


def decoding(config: dict, kind: str) -> Tuple[Optional[dict], Optional[dict], bool, str]:
    """(transformers generation_config, vLLM sampling fields, fixed output length, a description)."""
    d = config["decoder"]
    greedy = d["temperature"] == 0 or not d["do_sample"]
    fixed = bool(d["ignore_eos"]) or config["model"].startswith("synthetic:")  # random weights: no real EOS
    if kind == "transformers":
        generation = {"do_sample": False} if greedy else {
            "do_sample": True, "temperature": float(d["temperature"]), "top_k": int(d["top_k"]),
            "top_p": float(d["top_p"])}
        generation["repetition_penalty"] = float(d["repetition_penalty"])
        how = "generation_config per request" + ("; eos_token_id -1, so EOS never stops it" if fixed else "")
        return generation, None, fixed, how
    s = config["vllm"]["sampling"]
    sampling = {"temperature": 0.0 if greedy else float(d["temperature"]),
                "top_p": 1.0 if greedy else float(d["top_p"]),
                "top_k": int(d["top_k"]) if d["top_k"] > 0 and not greedy else -1,
                "repetition_penalty": float(d["repetition_penalty"]),
                "presence_penalty": float(s["presence_penalty"]), "frequency_penalty": float(s["frequency_penalty"])}
    if s.get("min_tokens") is not None:
        sampling["min_tokens"] = s["min_tokens"]
    return None, sampling, fixed, "sampling fields per request" + ("; ignore_eos" if fixed else "")


# ----- model and prompts -----

def load_tokenizer(model: str):
    try:
        from transformers import AutoTokenizer
    except ImportError as e:
        from ..errors import BackendUnavailable

        raise BackendUnavailable(f"scenario serving needs transformers for the model's tokenizer ({e}); "
                                 "run `npx lem setup` or use a lem image") from e
    try:
        return AutoTokenizer.from_pretrained(model)
    except (OSError, ValueError) as e:
        raise ModelUnavailable(f"cannot load the tokenizer of {model!r}: {e}") from e


def model_vocab(model: str, tokenizer) -> int:
    """Token ids a synthetic prompt draws from: the tokenizer's, no more than the model's embeddings."""
    vocab = len(tokenizer)
    try:
        from transformers import AutoConfig

        size = getattr(AutoConfig.from_pretrained(model), "vocab_size", None)
        if isinstance(size, int) and size > 0:
            vocab = min(vocab, size)
    except Exception:  # a config the harness's transformers cannot read: the server will say
        pass
    return vocab


def build_serving_prompts(config: dict, section: dict, tokenizer, kind: str, texts=None) -> Tuple[list, list, str]:
    """(measured, warmup, how): text for transformers serve, token ids for vLLM."""
    from ..prompts import build_prompts

    as_ids = kind == "vllm"
    # transformers serve adds the tokenizer's special tokens itself; token ids sent to vLLM are used as they are.
    encode = lambda text: tokenizer(text, add_special_tokens=as_ids)["input_ids"]  # noqa: E731
    cfg = dict(config, n=section["num_requests"])
    measured, warmup = build_prompts(cfg, model_vocab(config["model_path"], tokenizer), encode,
                                     section["warmup_requests"], texts)
    if as_ids:
        return measured, warmup, "token ids (the /v1/completions prompt as a list of ids)"

    def text(ids):
        return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    how = ("text: the seeded prompt's token ids decoded with the model's tokenizer (transformers serve takes text "
           "only); the server re-encodes it, so the input token counts are the server's usage counts")
    return [text(p) for p in measured], [text(p) for p in warmup], how


def param_count(config: dict, model: str) -> Tuple[Optional[int], str]:
    from ..models.presets import is_synthetic, resolve_preset

    if is_synthetic(config["model"]):
        return resolve_preset(config["model"]).n_params, "exact count of the preset's shapes"
    from ..models.param_count import safetensors_param_count

    return safetensors_param_count(model)


# ----- the server -----
