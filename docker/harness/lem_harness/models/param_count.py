"""Parameter count of a Hugging Face checkpoint from its safetensors headers, without loading any weight."""

import glob
import json
import os
import struct
from typing import List, Optional, Tuple


def _checkpoint_files(model: str) -> List[str]:
    if os.path.isdir(model):
        return sorted(glob.glob(os.path.join(model, "*.safetensors")))
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return []
    try:
        folder = snapshot_download(model, allow_patterns=["*.safetensors"], local_files_only=True)
    except Exception:  # not in the local cache (vLLM may have used another download folder)
        return []
    return sorted(glob.glob(os.path.join(folder, "*.safetensors")))


def header_param_count(path: str) -> int:
    """Sum of tensor elements listed in one safetensors file's JSON header."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    total = 0
    for name, tensor in header.items():
        if name == "__metadata__":
            continue
        count = 1
        for dim in tensor["shape"]:
            count *= dim
        total += count
    return total


def safetensors_param_count(model: str) -> Tuple[Optional[int], str]:
    """(count, method) or (None, why not)."""
    files = _checkpoint_files(model)
    if not files:
        return None, f"no safetensors files found for {model!r} locally or in the Hugging Face cache"
    try:
        total = sum(header_param_count(p) for p in files)
    except (OSError, ValueError, KeyError, struct.error) as e:
        return None, f"safetensors header unreadable: {e}"
    return total, f"tensor elements in {len(files)} safetensors header(s) (packed quantized weights count as stored)"
