"""Resolving the pytorch section of the config: device, dtype, threads, attention implementation."""

import os
from typing import Tuple

import torch
import torch.nn.functional as F

from ..errors import DeviceUnavailable, UnsupportedPrecision

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
DTYPE_NAMES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def resolve_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            f"pytorch.device is cuda but torch {torch.__version__} sees no CUDA device "
            f"(built with CUDA {torch.version.cuda}); use a GPU image with --gpus, or device cpu/auto"
        )
    return requested


def resolve_threads(requested) -> int:
    if requested is None:
        try:
            requested = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            requested = os.cpu_count() or 1
    torch.set_num_threads(int(requested))
    return torch.get_num_threads()


def resolve_dtype(precision: str, device: str) -> torch.dtype:
    """The dtype, after checking that this torch build can multiply matrices in it on this device."""
    dtype = DTYPES[precision]
    try:
        a = torch.ones(4, 4, device=device, dtype=dtype)
        F.linear(a, a)
    except RuntimeError as e:
        raise UnsupportedPrecision(
            f"precision {precision} is not supported on {device} by torch {torch.__version__} ({e}); "
            f"use precision bf16 or fp32 on CPU, or a CUDA device"
        ) from e
    return dtype


def resolve_attention(requested: str) -> Tuple[str, str]:
    """(implementation used, why it differs from the request or "")."""
    if requested == "sdpa" and not hasattr(F, "scaled_dot_product_attention"):
        return "eager", f"sdpa requested but torch {torch.__version__} has no scaled_dot_product_attention (needs >= 2.0)"
    return requested, ""


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()
