"""Shapes of the synthetic:<preset> models (Llama-style decoders) and their exact parameter counts."""

from dataclasses import dataclass
from typing import Dict

from ..errors import UnknownPreset

SYNTHETIC_PREFIX = "synthetic:"


@dataclass(frozen=True)
class Preset:
    name: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    tie_embeddings: bool
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def n_params(self) -> int:
        h, kv = self.hidden_size, self.num_kv_heads * self.head_dim
        per_layer = 2 * h + h * h + 2 * h * kv + h * h + 3 * h * self.intermediate_size
        embeddings = self.vocab_size * h * (1 if self.tie_embeddings else 2)
        return embeddings + self.num_layers * per_layer + h

    def hf_config(self) -> dict:
        """The same shapes as a Hugging Face LlamaConfig (used to run a preset on vLLM with dummy weights)."""
        return {
            "architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "vocab_size": self.vocab_size, "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_layers, "num_attention_heads": self.num_heads,
            "num_key_value_heads": self.num_kv_heads, "intermediate_size": self.intermediate_size,
            "head_dim": self.head_dim, "hidden_act": "silu", "rms_norm_eps": self.norm_eps,
            "rope_theta": self.rope_theta, "tie_word_embeddings": self.tie_embeddings,
            "max_position_embeddings": 131072, "torch_dtype": "bfloat16",
            "bos_token_id": None, "eos_token_id": None,
        }


PRESETS: Dict[str, Preset] = {
    p.name: p
    for p in (
        # For tests: a full experiment in a few seconds on a CPU.
        Preset("tiny", 512, 64, 2, 4, 2, 128, tie_embeddings=True),
        # A CPU demo with meaningful timings (~26M parameters).
        Preset("small", 8192, 512, 6, 8, 4, 1408, tie_embeddings=False),
        # Llama-3.2-1B and Llama-3.1-8B shapes.
        Preset("1b", 128256, 2048, 16, 32, 8, 8192, tie_embeddings=True, rope_theta=500000.0),
        Preset("8b", 128256, 4096, 32, 32, 8, 14336, tie_embeddings=False, rope_theta=500000.0),
    )
}


def is_synthetic(model: str) -> bool:
    return model.startswith(SYNTHETIC_PREFIX)


def resolve_preset(model: str) -> Preset:
    name = model[len(SYNTHETIC_PREFIX):]
    if name not in PRESETS:
        known = ", ".join(SYNTHETIC_PREFIX + p for p in PRESETS)
        raise UnknownPreset(f"unknown synthetic model {model!r}; presets are: {known}")
    return PRESETS[name]
