"""What the run ran on: software versions, CPU, GPUs, container; and the hardware fingerprint the host
compares results by (it must compute the same string)."""

import os
import platform
import re
import socket
import sys
from typing import List, Optional


def _package_version(name: str) -> Optional[str]:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # Python < 3.8
        return None
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """/proc/cpuinfo's first `model name`, whitespace runs collapsed; else platform.processor()."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == "model name":
                    model = re.sub(r"\s+", " ", value).strip()
                    if model:
                        return model
    except OSError:
        pass
    return re.sub(r"\s+", " ", platform.processor() or "").strip() or "unknown"


def slice_name(gpu_name: Optional[str], mig_profile: Optional[str]) -> str:
    """The GPU's name, whitespace runs collapsed; for a MIG slice `<GPU name> MIG <profile>`, as CUDA
    names the slice, whether gpu_name is the whole GPU's or already the slice's."""
    name = re.sub(r"\s+", " ", gpu_name or "").strip() or "unknown"
    if mig_profile:
        whole = re.sub(r"(^|\s+)MIG(\s.*)?$", "", name) or "unknown"
        name = f"{whole} MIG {mig_profile}"
    return name


def hardware_fingerprint(device: str, gpu_name: Optional[str], gpu_count: int, cpuinfo: str = "/proc/cpuinfo",
                         mig_profile: Optional[str] = None) -> str:
    """`gpu:<name> x<count>` or `cpu:<model>`, whitespace runs collapsed: what src/exec/hardware.ts computes.
    A MIG slice is keyed to the slice, not the whole GPU: `gpu:NVIDIA A100-SXM4-40GB MIG 1g.10gb x1`."""
    if device == "cuda":
        return f"gpu:{slice_name(gpu_name, mig_profile)} x{gpu_count}"
    return f"cpu:{cpu_model(cpuinfo)}"


def in_container() -> bool:
    if os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"):
        return True
    try:
        with open("/proc/1/cgroup", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return False
    return any(hint in text for hint in ("docker", "kubepods", "containerd", "libpod", "lxc"))


def _nvml_gpus() -> tuple:
    """([gpu dict], driver version) from NVML, or ([], None) where NVML is absent."""
    from .energy.nvml import Nvml, NvmlError, optional

    try:
        nvml = Nvml.get()
        count = nvml.device_count()
    except NvmlError:
        return [], None
    driver = optional(nvml.driver_version)
    gpus = []
    for index in range(count):
        h = optional(nvml.handle, index)
        if h is None:
            continue
        limit = optional(nvml.power_limit_mw, h)
        memory = optional(nvml.memory_info, h)
        gpus.append({
            "index": index, "name": optional(nvml.name, h), "uuid": optional(nvml.uuid, h), "driver": driver,
            "power_limit_w": limit / 1000.0 if limit is not None else None,
            "persistence_mode": optional(nvml.persistence_mode, h), "mig_mode": optional(nvml.mig_mode, h),
            "memory_total_bytes": memory.total if memory is not None else None,
        })
    return gpus, driver


def _torch_info() -> tuple:
    """(torch version, CUDA version torch was built with); None where torch is absent."""
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import torch  # noqa: F811
        except ImportError:
            return None, None
    return torch.__version__, torch.version.cuda


def collect_environment(torch_cuda_names: Optional[List[str]] = None, gpu_settings: Optional[List[dict]] = None) -> dict:
    """gpu_settings: power limit and application clocks of the GPUs the run used (energy/gpu_settings.py)."""
    torch_version, cuda = _torch_info()
    gpus, driver = _nvml_gpus()
    if not gpus and torch_cuda_names:  # CUDA works but NVML is absent: names only
        gpus = [{"index": i, "name": n, "uuid": None, "driver": None, "power_limit_w": None,
                 "persistence_mode": None, "mig_mode": None, "memory_total_bytes": None}
                for i, n in enumerate(torch_cuda_names)]
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    env = {
        "python": platform.python_version(),
        "torch": torch_version,
        "transformers": _package_version("transformers"),
        "vllm": _package_version("vllm"),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "cpu": {"model": cpu_model(), "count": os.cpu_count(), "affinity": affinity, "arch": platform.machine()},
        "gpus": gpus,
        "cuda": cuda,
        "driver": driver,
        "in_container": in_container(),
        "container_id": None,
    }
    if gpu_settings is not None:
        env["gpu_settings"] = gpu_settings
    return env
