"""What every backend returns from a generation pass, and the interface the experiment drives."""

from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class GenerationRecord:
    """Per-request timings (ms) and token counts of one pass over a list of prompts."""

    ttft_ms: List[float] = field(default_factory=list)
    itl_ms: List[float] = field(default_factory=list)
    e2e_ms: List[float] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    prompts: int = 0
    ttft_method: str = ""
    itl_method: str = ""
    e2e_method: str = ""


@dataclass
class LoadedModel:
    """What the experiment needs to know about the model once a backend has loaded it."""

    n_params: Optional[int]
    n_params_method: str
    vocab_size: int
    device: str  # "cpu" or "cuda"
    cuda_devices: List[int]  # CUDA ordinals used (empty on CPU)
    effective: dict  # goes into effective_config
    cuda_uuids: Optional[List[str]] = None  # NVML UUIDs of those devices, where torch knows them
    gpu_name: Optional[str] = None  # name of the first device used, for the hardware fingerprint


class Backend:
    """load() → LoadedModel; encode(text) → ids; generate(prompts) → GenerationRecord."""

    name = "base"

    def load(self) -> LoadedModel:
        raise NotImplementedError

    def encode(self, text: str) -> List[int]:
        raise NotImplementedError

    def generate(self, prompts: List[List[int]], new_tokens: Optional[int] = None) -> GenerationRecord:
        """One pass. new_tokens: exactly that many per prompt (min = max), e.g. 1 for a prefill-only
        pass; None: the config's max_output_tokens, stopping at EOS unless ignore_eos."""
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait for queued device work, so a timestamp marks finished work."""

    def peak_memory(self) -> dict:
        raise NotImplementedError

    def close(self) -> None:
        pass
