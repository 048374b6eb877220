"""Next-token choice per the decoder config, in the order transformers applies it:
repetition penalty, then temperature, top-k, top-p, then a seeded multinomial draw (or argmax)."""

from typing import Optional

import torch


class TokenSampler:
    def __init__(self, decoder: dict, vocab_size: int, device: str, seed: int):
        self.greedy = decoder["temperature"] == 0 or not decoder["do_sample"]
        self.temperature = float(decoder["temperature"])
        self.top_k = int(decoder["top_k"])
        self.top_p = float(decoder["top_p"])
        self.penalty = float(decoder["repetition_penalty"])
        self.vocab_size = vocab_size
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)
        self.seen: Optional[torch.Tensor] = None  # (B, V) tokens already in each sequence

    @property
    def mode(self) -> str:
        return "greedy" if self.greedy else "sample"

    def start(self, input_ids: torch.Tensor, key_mask: Optional[torch.Tensor]) -> None:
        """Remember the prompt tokens (pads excluded) for the repetition penalty."""
        if self.penalty == 1.0:
            return
        batch = input_ids.shape[0]
        self.seen = torch.zeros(batch, self.vocab_size, dtype=torch.bool, device=input_ids.device)
        real = input_ids if key_mask is None else input_ids.masked_fill(~key_mask, -1)
        for row in range(batch):
            ids = real[row][real[row] >= 0]
            self.seen[row, ids.clamp(max=self.vocab_size - 1)] = True

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, V) logits → (B,) token ids."""
        logits = logits.float()[:, : self.vocab_size]
        if self.seen is not None:
            penalised = torch.where(logits < 0, logits * self.penalty, logits / self.penalty)
            logits = torch.where(self.seen, penalised, logits)
        if self.greedy:
            chosen = logits.argmax(dim=-1)
        else:
            logits = logits / self.temperature
            if 0 < self.top_k < logits.shape[-1]:
                kth = torch.topk(logits, self.top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            if self.top_p < 1.0:
                logits = self._top_p(logits)
            probs = torch.softmax(logits, dim=-1)
            chosen = torch.multinomial(probs, 1, generator=self.generator).squeeze(-1)
        if self.seen is not None:
            self.seen[torch.arange(chosen.shape[0], device=chosen.device), chosen] = True
        return chosen

    def _top_p(self, logits: torch.Tensor) -> torch.Tensor:
        ordered, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = torch.softmax(ordered, dim=-1).cumsum(dim=-1)
        drop = cumulative > self.top_p
        drop[:, 1:] = drop[:, :-1].clone()  # keep the token that crosses top_p
        drop[:, 0] = False
        return logits.masked_fill(drop.scatter(1, order, drop), float("-inf"))
