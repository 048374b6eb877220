"""Loading a Hugging Face model with transformers (imported lazily) and driving it step by step with
past_key_values, so the first token and every later one can be timed (model.generate cannot be)."""

import inspect
import re
from typing import Tuple

import torch

from ..errors import BackendUnavailable, ModelUnavailable


def _import_transformers():
    try:
        import transformers  # noqa: F401
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise BackendUnavailable(
            f"model needs the transformers package, which is not installed ({e}); "
            "install it (pip install transformers) or use a lem GPU image; synthetic:<preset> models need only torch"
        ) from e
    return AutoModelForCausalLM, AutoTokenizer


class HFAdapter:
    def __init__(self, model):
        self.model = model
        self.past = None
        params = inspect.signature(model.forward).parameters
        self.takes_positions = "position_ids" in params
        self.keep_last = {}
        for name in ("logits_to_keep", "num_logits_to_keep"):  # transformers >= 4.45 computes only kept logits
            if name in params:
                self.keep_last = {name: 1}
                break
        eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        if eos is None:
            eos = getattr(model.config, "eos_token_id", None)
        self.eos_ids = frozenset(eos if isinstance(eos, (list, tuple)) else [] if eos is None else [eos])
        self.n_params = sum(p.numel() for p in model.parameters())
        self.logits_dim = model.get_output_embeddings().weight.shape[0]

    def _call(self, ids, key_mask, positions, **extra) -> torch.Tensor:
        kwargs = {"input_ids": ids, "past_key_values": self.past, "use_cache": True, **extra}
        if key_mask is not None:
            kwargs["attention_mask"] = key_mask.long()
        if self.takes_positions:
            kwargs["position_ids"] = positions
        out = self.model(**kwargs)
        self.past = out.past_key_values
        return out.logits[:, -1]

    def prefill(self, ids, key_mask, positions, max_new: int) -> torch.Tensor:
        self.past = None
        return self._call(ids, key_mask, positions, **self.keep_last)

    def decode(self, tokens, key_mask, positions) -> torch.Tensor:
        return self._call(tokens, key_mask, positions)

    def release(self) -> None:
        self.past = None


def load_hf_model(model_id: str, device: str, dtype: torch.dtype, attn: str) -> Tuple[HFAdapter, object, str, str]:
    """(adapter, tokenizer, attention implementation used, why it differs from the request or "")."""
    AutoModelForCausalLM, AutoTokenizer = _import_transformers()
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_id)
    except (OSError, ValueError) as e:
        raise ModelUnavailable(f"cannot load the tokenizer of {model_id!r}: {e}") from e
    fallback = ""
    import transformers

    major, minor = (int(x) for x in re.findall(r"\d+", transformers.__version__)[:2])
    dtype_arg = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"  # renamed in 4.56
    try:
        model = AutoModelForCausalLM.from_pretrained(model_id, **{dtype_arg: dtype}, attn_implementation=attn)
    except (ValueError, ImportError) as e:
        if attn != "sdpa":
            raise ModelUnavailable(f"cannot load {model_id!r}: {e}") from e
        fallback = f"sdpa not supported for this model or torch ({e}); used eager"
        attn = "eager"
        try:  # the ValueError may have had nothing to do with sdpa (a folder without config.json)
            model = AutoModelForCausalLM.from_pretrained(model_id, **{dtype_arg: dtype}, attn_implementation=attn)
        except (ValueError, ImportError, OSError) as e2:
            raise ModelUnavailable(f"cannot load {model_id!r}: {e2}") from e2
    except OSError as e:
        raise ModelUnavailable(f"cannot load {model_id!r} (not a local path, not in the Hugging Face cache, "
                               f"or not downloadable): {e}") from e
    model.to(device)
    model.eval()
    return HFAdapter(model), tokenizer, attn, fallback
