"""The pytorch backend: batched generation with a KV cache (prefill, then one decode step per token),
timed per request; for synthetic:<preset> models or transformers models."""

import os
import time
from typing import List, Optional, Tuple

import torch

from ..memory import cpu_peak_rss, cuda_peak_allocated
from ..models.presets import is_synthetic, resolve_preset
from ..prompts import byte_encoder
from .base import Backend, GenerationRecord, LoadedModel
from .sampling import TokenSampler
from .torch_setup import DTYPE_NAMES, resolve_attention, resolve_device, resolve_dtype, resolve_threads, synchronize

TTFT_METHOD = "wall clock from batch start to the request's first sampled token (prefill + first sample)"
ITL_METHOD = "wall clock of each decode step (one forward pass + sample), one sample per active request per step"
E2E_METHOD = "wall clock from batch start to the request's last token"
CUDA_SYNC_NOTE = "; torch.cuda.synchronize at every timing edge"


class SyntheticAdapter:
    """Drives SyntheticLlama with its preallocated KV cache."""

    def __init__(self, model):
        self.model = model
        self.cache = None
        self.eos_ids: frozenset = frozenset()  # random weights: no end-of-sequence token

    def prefill(self, ids, key_mask, positions, max_new: int) -> torch.Tensor:
        self.cache = self.model.new_cache(ids.shape[0], ids.shape[1] + max_new)
        return self.model(ids, positions, self.cache, key_mask, last_only=True)

    def decode(self, tokens, key_mask, positions) -> torch.Tensor:
        return self.model(tokens, positions, self.cache, key_mask, last_only=True)

    def release(self) -> None:
        self.cache = None


def _cuda_uuids(devices: List[int]) -> Optional[List[str]]:
    """NVML-style UUIDs (GPU-...) of CUDA ordinals; None where this torch cannot tell (< 2.1)."""
    try:
        uuids = [str(torch.cuda.get_device_properties(d).uuid) for d in devices]
    except (AttributeError, RuntimeError):
        return None
    return [u if u.startswith(("GPU-", "MIG-")) else f"GPU-{u}" for u in uuids]


def left_pad(batch: List[List[int]], device: str) -> Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
    """(ids, key_mask or None when every prompt has the same length, positions) with left padding."""
    width = max(len(p) for p in batch)
    ids = torch.zeros(len(batch), width, dtype=torch.long)
    key_mask = torch.zeros(len(batch), width, dtype=torch.bool)
    for row, prompt in enumerate(batch):
        ids[row, width - len(prompt):] = torch.tensor(prompt, dtype=torch.long)
        key_mask[row, width - len(prompt):] = True
    positions = (key_mask.long().cumsum(-1) - 1).clamp(min=0)
    padded = not bool(key_mask.all())
    return ids.to(device), (key_mask.to(device) if padded else None), positions.to(device)


class PytorchBackend(Backend):
    name = "pytorch"

    def __init__(self, config: dict):
        self.config = config
        self.section = config["pytorch"]
        self.device = "cpu"
        self.adapter = None
        self.sampler: Optional[TokenSampler] = None
        self._encode = None

    def load(self) -> LoadedModel:
        cfg = self.config
        synthetic = is_synthetic(cfg["model"])
        preset = resolve_preset(cfg["model"]) if synthetic else None  # an unknown preset fails before any work
        self.device = resolve_device(self.section["device"])
        threads = resolve_threads(self.section["num_threads"])
        dtype = resolve_dtype(cfg["precision"], self.device)
        attn, attn_note = resolve_attention(self.section["attn_implementation"])
        torch.manual_seed(cfg["random_seed"])
        if synthetic:
            from ..models.synthetic import SyntheticLlama

            model = SyntheticLlama(preset, self.device, dtype, cfg["random_seed"], attn)
            self.adapter = SyntheticAdapter(model)
            n_params, vocab, logits_dim = model.n_params, preset.vocab_size, preset.vocab_size
            self._encode = byte_encoder(vocab)
            attn = model.attn_implementation
            extra = {"model_source": f"random weights, {preset.name} preset (Llama-style decoder), seed {cfg['random_seed']}"}
        else:
            from .hf_model import load_hf_model

            self.adapter, tokenizer, attn, attn_fallback = load_hf_model(cfg["model"], self.device, dtype, attn)
            attn_note = attn_note or attn_fallback
            n_params, logits_dim = self.adapter.n_params, self.adapter.logits_dim
            vocab = min(len(tokenizer), logits_dim)
            self._encode = lambda text: tokenizer(text, add_special_tokens=True)["input_ids"]
            extra = {"model_source": "transformers AutoModelForCausalLM"}
        self.sampler = TokenSampler(cfg["decoder"], logits_dim, self.device, cfg["random_seed"])
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats(0)
        effective = {
            "backend": "pytorch", "device": self.device, "dtype": DTYPE_NAMES[dtype], "num_threads": threads,
            "attn_implementation": attn, "torch_version": torch.__version__,
            "batch_size": self.section["batch_size"], "decoding": self.sampler.mode,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), **extra,
        }
        if attn_note:
            effective["attn_implementation_note"] = attn_note
        cuda = self.device == "cuda"
        return LoadedModel(
            n_params=n_params, n_params_method="sum of the loaded model's parameter tensors",
            vocab_size=vocab, device=self.device, cuda_devices=[0] if cuda else [], effective=effective,
            cuda_uuids=_cuda_uuids([0]) if cuda else None,
            gpu_name=torch.cuda.get_device_name(0) if cuda else None,
        )

    def encode(self, text: str) -> List[int]:
        return self._encode(text)

    def synchronize(self) -> None:
        synchronize(self.device)

    def peak_memory(self) -> dict:
        return cuda_peak_allocated([0]) if self.device == "cuda" else cpu_peak_rss()

    def generate(self, prompts: List[List[int]], new_tokens: Optional[int] = None) -> GenerationRecord:
        note = CUDA_SYNC_NOTE if self.device == "cuda" else ""
        record = GenerationRecord(ttft_method=TTFT_METHOD + note, itl_method=ITL_METHOD + note, e2e_method=E2E_METHOD + note)
        size = self.section["batch_size"]
        with torch.inference_mode():
            for start in range(0, len(prompts), size):
                self._generate_batch(prompts[start:start + size], record, new_tokens)
        return record

    def _generate_batch(self, batch: List[List[int]], record: GenerationRecord, new_tokens: Optional[int] = None) -> None:
        max_new = self.config["max_output_tokens"] if new_tokens is None else new_tokens
        stop_at_eos = new_tokens is None and not self.config["decoder"]["ignore_eos"] and bool(self.adapter.eos_ids)
        ids, key_mask, positions = left_pad(batch, self.device)
        self.sampler.start(ids, key_mask)
        self.synchronize()
        started = time.perf_counter()
        tokens = self.sampler(self.adapter.prefill(ids, key_mask, positions, max_new))
        self.synchronize()
        previous = time.perf_counter()
        size = len(batch)
        record.ttft_ms.extend([(previous - started) * 1000.0] * size)
        generated = [1] * size
        finished_at = [previous] * size
        active = [True] * size
        if stop_at_eos:
            active = [t not in self.adapter.eos_ids for t in tokens.tolist()]
        next_positions = positions[:, -1:] + 1
        for _ in range(1, max_new):
            if not any(active):
                break
            if key_mask is not None:
                key_mask = torch.cat([key_mask, key_mask.new_ones(size, 1)], dim=1)
            tokens = self.sampler(self.adapter.decode(tokens[:, None], key_mask, next_positions))
            self.synchronize()
            now = time.perf_counter()
            step_ms = (now - previous) * 1000.0
            ids_now = tokens.tolist() if stop_at_eos else None
            for row in range(size):
                if active[row]:
                    record.itl_ms.append(step_ms)
                    generated[row] += 1
                    finished_at[row] = now
                    if stop_at_eos and ids_now[row] in self.adapter.eos_ids:
                        active[row] = False
            previous = now
            next_positions = next_positions + 1
        self.adapter.release()
        record.e2e_ms.extend((t - started) * 1000.0 for t in finished_at)
        record.input_tokens += sum(len(p) for p in batch)
        record.output_tokens += sum(generated)
        record.prompts += size
