"""Peak memory: CUDA allocator peak on GPU runs, the process's peak RSS on CPU runs."""

import resource
import sys
from typing import List


def cpu_peak_rss() -> dict:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # Linux reports KiB, macOS bytes
    return {"peak_bytes": int(peak) * scale, "device": "cpu", "method": "ru_maxrss (process peak RSS)"}


def cuda_peak_allocated(devices: List[int]) -> dict:
    import torch

    peak = sum(int(torch.cuda.max_memory_allocated(d)) for d in devices)
    where = f"summed over CUDA devices {devices}" if len(devices) > 1 else f"CUDA device {devices[0]}"
    return {
        "peak_bytes": peak, "device": "cuda",
        "method": f"torch.cuda.max_memory_allocated (peak since the model was loaded: weights, warmup, window; {where})",
    }
