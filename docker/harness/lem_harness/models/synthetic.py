"""A Llama-style decoder in plain torch with random weights: RMSNorm, rotary embeddings, grouped-query
attention with a preallocated KV cache, SwiGLU MLP. Weights are drawn directly on the target device in the
target dtype (no per-module default init), so even the 8b preset is created in seconds."""

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .presets import Preset

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


class KVCache:
    """Keys and values for every layer, preallocated to max_len positions; `length` is the filled prefix."""

    def __init__(self, preset: Preset, batch: int, max_len: int, device, dtype):
        shape = (batch, preset.num_kv_heads, max_len, preset.head_dim)
        self.keys = [torch.empty(shape, device=device, dtype=dtype) for _ in range(preset.num_layers)]
        self.values = [torch.empty(shape, device=device, dtype=dtype) for _ in range(preset.num_layers)]
        self.length = 0
        self.max_len = max_len

    def store(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        end = self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"KV cache holds {self.max_len} positions; {end} requested")
        self.keys[layer][:, :, self.length:end] = k
        self.values[layer][:, :, self.length:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class DecoderLayer(nn.Module):
    def __init__(self, preset: Preset, param):
        super().__init__()
        h, kv = preset.hidden_size, preset.num_kv_heads * preset.head_dim
        self.attn_norm = param(h, ones=True)
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = param(h, h), param(kv, h), param(kv, h), param(h, h)
        self.mlp_norm = param(h, ones=True)
        self.gate_proj = param(preset.intermediate_size, h)
        self.up_proj = param(preset.intermediate_size, h)
        self.down_proj = param(h, preset.intermediate_size)


class SyntheticLlama(nn.Module):
    def __init__(self, preset: Preset, device, dtype: torch.dtype, seed: int, attn_implementation: str = "sdpa"):
        super().__init__()
        self.preset = preset
        self.device = torch.device(device)
        self.dtype = dtype
        self.attn_implementation = "sdpa" if attn_implementation == "sdpa" and HAS_SDPA else "eager"
        generator = torch.Generator(device=self.device)
        generator.manual_seed(seed)

        def param(*shape, ones=False):
            data = torch.empty(*shape, device=self.device, dtype=dtype)
            data.fill_(1.0) if ones else data.normal_(0.0, 0.02, generator=generator)
            return nn.Parameter(data, requires_grad=False)

        self.embed = param(preset.vocab_size, preset.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(preset, param) for _ in range(preset.num_layers))
        self.final_norm = param(preset.hidden_size, ones=True)
        self.lm_head = None if preset.tie_embeddings else param(preset.vocab_size, preset.hidden_size)
        head_dim = preset.head_dim
        inv_freq = 1.0 / (preset.rope_theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq.to(self.device), persistent=False)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def new_cache(self, batch: int, max_len: int) -> KVCache:
        return KVCache(self.preset, batch, max_len, self.device, self.dtype)

    def _rms_norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.preset.norm_eps)
        return weight * x32.to(x.dtype)

    def _rotary(self, positions: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        freqs = positions.float()[..., None] * self.inv_freq  # (B, T, head_dim/2)
        angles = torch.cat((freqs, freqs), dim=-1)[:, None]  # (B, 1, T, head_dim)
        return angles.cos().to(self.dtype), angles.sin().to(self.dtype)

    def _attention(self, q, k, v, mask: Optional[torch.Tensor], causal: bool) -> torch.Tensor:
        repeats = self.preset.num_heads // self.preset.num_kv_heads
        if repeats > 1:  # grouped-query attention: each kv head serves `repeats` query heads
            b, kvh, length, d = k.shape
            k = k[:, :, None].expand(b, kvh, repeats, length, d).reshape(b, kvh * repeats, length, d)
            v = v[:, :, None].expand(b, kvh, repeats, length, d).reshape(b, kvh * repeats, length, d)
        if self.attn_implementation == "sdpa":
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
        if causal and mask is None:
            t, length = q.shape[2], k.shape[2]
            mask = torch.ones(t, length, dtype=torch.bool, device=q.device).tril(length - t)
        if mask is not None:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        return torch.matmul(probs, v)

    @staticmethod
    def _padding_mask(key_mask: torch.Tensor, t: int, past: int) -> torch.Tensor:
        """(B, 1, T, L) bool: causal and not a pad; each query also sees itself so no row is empty."""
        length = past + t
        causal = torch.ones(t, length, dtype=torch.bool, device=key_mask.device).tril(past)
        mask = causal[None] & key_mask[:, None, :length]
        own = torch.zeros(t, length, dtype=torch.bool, device=key_mask.device)
        rows = torch.arange(t, device=key_mask.device)
        own[rows, past + rows] = True
        return (mask | own[None])[:, None]

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: Optional[torch.Tensor] = None,
        cache: Optional[KVCache] = None,
        key_mask: Optional[torch.Tensor] = None,
        last_only: bool = False,
    ) -> torch.Tensor:
        """Logits (B, T, V), or (B, V) for the last position when last_only.

        key_mask (B, past+T) marks real tokens (False for left padding); None means no padding."""
        batch, t = input_ids.shape
        past = cache.length if cache is not None else 0
        if positions is None:
            positions = torch.arange(past, past + t, device=input_ids.device).expand(batch, t)
        cos, sin = self._rotary(positions)
        mask = self._padding_mask(key_mask, t, past) if key_mask is not None else None
        # Without padding: plain causal for a fresh prefill; one new token attends to every cached one.
        causal = mask is None and t > 1
        if causal and past > 0:
            mask = self._padding_mask(torch.ones(batch, past + t, dtype=torch.bool, device=input_ids.device), t, past)
        preset = self.preset
        x = F.embedding(input_ids, self.embed)
        for index, layer in enumerate(self.layers):
            h = self._rms_norm(x, layer.attn_norm)
            q = F.linear(h, layer.q_proj).view(batch, t, preset.num_heads, preset.head_dim).transpose(1, 2)
            k = F.linear(h, layer.k_proj).view(batch, t, preset.num_kv_heads, preset.head_dim).transpose(1, 2)
            v = F.linear(h, layer.v_proj).view(batch, t, preset.num_kv_heads, preset.head_dim).transpose(1, 2)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            if cache is not None:
                k, v = cache.store(index, k, v)
            attn = self._attention(q, k, v, mask, causal)
            x = x + F.linear(attn.transpose(1, 2).reshape(batch, t, preset.hidden_size), layer.o_proj)
            h = self._rms_norm(x, layer.mlp_norm)
            x = x + F.linear(F.silu(F.linear(h, layer.gate_proj)) * F.linear(h, layer.up_proj), layer.down_proj)
        if cache is not None:
            cache.length += t
        x = self._rms_norm(x[:, -1] if last_only else x, self.final_norm)
        return F.linear(x, self.embed if self.lm_head is None else self.lm_head)

