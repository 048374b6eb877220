"""Which NVML device each CUDA ordinal the framework used is: resolved to a UUID, MIG instances included.

CUDA numbers devices fastest-first unless CUDA_DEVICE_ORDER=PCI_BUS_ID, NVML by PCI bus, so an integer
is trusted as an NVML index only in PCI bus order (lem's images and local runs set it) or where every
GPU is the same model. UUIDs, and the prefixes of them CUDA accepts, are matched exactly."""

import os
import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

from .nvml import Nvml, NvmlError, optional


@dataclass
class ResolvedDevice:
    ordinal: int  # the CUDA ordinal the framework used
    entry: str  # what named it: a UUID from the framework, a CUDA_VISIBLE_DEVICES entry, or the ordinal
    uuid: str  # NVML UUID of what CUDA runs on: GPU-... or MIG-...
    handle: object
    gpu_uuid: str  # the whole GPU whose counters are read (the parent of a MIG instance)
    gpu_handle: object
    mig: bool = False
    # The MIG profile CUDA runs on ("1g.10gb"): of the instance, or of the first instance of a
    # MIG-enabled GPU named as a whole (CUDA enumerates that one); None where MIG is off or unknown.
    mig_profile: Optional[str] = None


_MIG_PROFILE = re.compile(r"\bMIG\s+(\d[0-9A-Za-z.+_-]*)")


def mig_profile_of(name: Optional[str]) -> Optional[str]:
    """The profile ("1g.10gb") in a MIG instance's name as NVML and CUDA give it ("NVIDIA A100-SXM4-40GB
    MIG 1g.10gb") or as nvidia-smi -L lists it ("MIG 1g.10gb"); None where the name has none."""
    m = _MIG_PROFILE.search(name or "")
    return m.group(1) if m else None


@dataclass
class Resolution:
    devices: List[ResolvedDevice]
    flags: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)


def visible_entries(value: Optional[str]) -> List[str]:
    return [e.strip() for e in (value or "").split(",") if e.strip()]


def _all_uuids(nvml: Nvml) -> List[tuple]:
    """[(uuid, handle)] of every GPU and every MIG instance NVML can see."""
    out = []
    for index in range(nvml.device_count()):
        h = nvml.handle(index)
        out.append((nvml.uuid(h), h))
        try:
            if nvml.mig_mode(h):
                out.extend((nvml.uuid(c), c) for c in nvml.mig_children(h))
        except NvmlError:
            pass  # MIG enumeration unsupported here: whole GPUs only
    return out


def _by_uuid(nvml: Nvml, entry: str):
    """(uuid, handle) for a full or shortened UUID, with or without its GPU-/MIG- prefix."""
    candidates = [entry]
    if entry.startswith("GPU-"):
        candidates.append("MIG-" + entry[4:])  # torch reports a MIG instance's UUID with a GPU- prefix
    for candidate in candidates:
        try:
            h = nvml.handle_by_uuid(candidate)
            return nvml.uuid(h), h
        except NvmlError:
            continue
    bare = entry.split("-", 1)[1] if entry.startswith(("GPU-", "MIG-")) else entry
    known = _all_uuids(nvml)
    matches = [(u, h) for u, h in known if u.split("-", 1)[-1].lower().startswith(bare.lower())]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NvmlError(f"no GPU or MIG instance with UUID {entry!r} (NVML sees {', '.join(u for u, _ in known) or 'none'})")
    raise NvmlError(f"UUID prefix {entry!r} is ambiguous: {', '.join(u for u, _ in matches)}")


def _first_instance_profile(nvml: Nvml, h) -> Optional[str]:
    children = optional(nvml.mig_children, h) or []
    return mig_profile_of(optional(nvml.name, children[0])) if children else None


def _describe(nvml: Nvml, ordinal: int, entry: str, uuid: str, h) -> ResolvedDevice:
    if optional(nvml.is_mig_handle, h):
        parent = nvml.mig_parent(h)
        return ResolvedDevice(ordinal, entry, uuid, h, nvml.uuid(parent), parent, mig=True,
                              mig_profile=mig_profile_of(optional(nvml.name, h)))
    mig = bool(optional(nvml.mig_mode, h))
    return ResolvedDevice(ordinal, entry, uuid, h, uuid, h, mig=mig,
                          mig_profile=_first_instance_profile(nvml, h) if mig else None)


def resolve_devices(nvml: Nvml, cuda_devices: Sequence[int], uuids: Optional[Sequence[str]] = None,
                    visible: Optional[str] = None, device_order: Optional[str] = None) -> Resolution:
    """Each CUDA ordinal as an NVML device. uuids: what the framework reported, where it could;
    visible: CUDA_VISIBLE_DEVICES as the harness started (vLLM rewrites it later)."""
    if visible is None:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if device_order is None:
        device_order = os.environ.get("CUDA_DEVICE_ORDER", "")
    entries = visible_entries(visible)
    resolution = Resolution([])
    by_index = False
    for i, ordinal in enumerate(cuda_devices):
        if uuids and i < len(uuids) and uuids[i]:
            entry = uuids[i]
        else:
            entry = entries[ordinal] if ordinal < len(entries) else str(ordinal)
        if entry.isdigit():
            h = nvml.handle(int(entry))
            resolution.devices.append(_describe(nvml, ordinal, entry, nvml.uuid(h), h))
            by_index = True
        else:
            uuid, h = _by_uuid(nvml, entry)
            resolution.devices.append(_describe(nvml, ordinal, entry, uuid, h))
    if by_index and device_order.upper() != "PCI_BUS_ID":
        names = {nvml.name(nvml.handle(i)) for i in range(nvml.device_count())}
        if len(names) > 1:
            resolution.flags.append("device_order_unverified")
            resolution.notes.append(
                "GPUs were named by index without CUDA_DEVICE_ORDER=PCI_BUS_ID on a host with different GPU "
                f"models ({', '.join(sorted(names))}): CUDA's index may not be NVML's")
    if any(d.mig for d in resolution.devices):
        resolution.flags.append("mig_whole_gpu_energy")
        migs = ", ".join(d.uuid for d in resolution.devices if d.mig)
        resolution.notes.append(
            f"the run used MIG ({migs}); NVML reads energy and power for the whole GPU only, so the figures "
            "include every other instance on it")
    return resolution
