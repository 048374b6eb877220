"""Prompts as token ids: seeded random ids (dataset "synthetic") or the lines of a JSONL file."""

import json
import os
from typing import Callable, List, Optional, Tuple

import torch

from .errors import DatasetError

Encode = Callable[[str], List[int]]


def synthetic_prompts(count: int, length: int, vocab_size: int, generator: torch.Generator) -> List[List[int]]:
    """`count` prompts of exactly `length` ids drawn uniformly from [0, vocab_size)."""
    if count == 0:
        return []
    return torch.randint(0, vocab_size, (count, length), generator=generator).tolist()


def byte_encoder(vocab_size: int) -> Encode:
    """Tokenizer for synthetic models: UTF-8 bytes modulo the vocabulary."""
    return lambda text: [b % vocab_size for b in text.encode("utf-8")]


def read_jsonl_texts(path: str) -> List[str]:
    """Each non-blank line is an object with a string `prompt` or `text` field."""
    if not os.path.isfile(path):
        raise DatasetError(f"dataset file not found: {os.path.abspath(path)} (dataset must be 'synthetic' or a JSONL file)")
    texts = []
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as e:
                    raise DatasetError(f"{path}:{number}: not valid JSON ({e})") from e
                text = row.get("prompt", row.get("text")) if isinstance(row, dict) else None
                if not isinstance(text, str) or not text:
                    raise DatasetError(f"{path}:{number}: expected an object with a non-empty string 'prompt' or 'text'")
                texts.append(text)
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read dataset file {path}: {e}") from e
    if not texts:
        raise DatasetError(f"dataset file {path} has no prompts")
    return texts


def _cycled(items: list, start: int, count: int) -> list:
    return [items[(start + i) % len(items)] for i in range(count)]


def build_prompts(config: dict, vocab_size: int, encode: Optional[Encode], n_warmup: int,
                  texts: Optional[List[str]] = None) -> Tuple[List[List[int]], List[List[int]]]:
    """(measured, warmup) prompts. Warmup prompts differ from the measured ones where the source allows,
    so a prefix cache cannot flatter the window; the measured ones never depend on n_warmup."""
    n, max_in = config["n"], config["max_input_tokens"]
    if config["dataset"] == "synthetic":
        generator = torch.Generator().manual_seed(config["random_seed"])
        measured = synthetic_prompts(n, max_in, vocab_size, generator)
        return measured, synthetic_prompts(n_warmup, max_in, vocab_size, generator)
    texts = texts if texts is not None else read_jsonl_texts(config["dataset"])
    encode = encode or byte_encoder(vocab_size)
    cache = {}

    def tokenize(text: str) -> List[int]:
        if text not in cache:
            ids = encode(text)[:max_in]
            if not ids:
                raise DatasetError(f"prompt {text[:40]!r} in {config['dataset']} tokenizes to no tokens")
            cache[text] = ids
        return cache[text]

    measured = [tokenize(t) for t in _cycled(texts, 0, n)]
    warmup = [tokenize(t) for t in _cycled(texts, n, n_warmup)]
    return measured, warmup
