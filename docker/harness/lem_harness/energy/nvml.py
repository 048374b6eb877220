"""A minimal NVML binding over ctypes (libnvidia-ml.so.1), so no pynvml package is needed."""

import ctypes
import threading
from typing import List, Optional

NVML_SUCCESS = 0
NVML_ERROR_NOT_SUPPORTED = 3
NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_SM = 1

# nvmlClocksEventReasons (formerly ClocksThrottleReasons) bits.
THROTTLE_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
THERMAL_REASONS = {"sw_thermal_slowdown", "hw_thermal_slowdown", "hw_slowdown"}
POWER_REASONS = {"sw_power_cap", "hw_power_brake_slowdown"}


class NvmlError(Exception):
    pass


class _Memory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]


def decode_throttle_reasons(mask: int) -> List[str]:
    names = [name for bit, name in THROTTLE_REASONS.items() if mask & bit]
    unknown = mask & ~sum(THROTTLE_REASONS)
    if unknown:
        names.append(f"unknown_0x{unknown:x}")
    return names


class Nvml:
    """Loaded and initialised once per process; every call raises NvmlError with NVML's own message."""

    _instance: Optional["Nvml"] = None
    _lock = threading.Lock()

    @classmethod
    def get(cls) -> "Nvml":
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __init__(self):
        try:
            self.lib = ctypes.CDLL("libnvidia-ml.so.1")
        except OSError as e:
            raise NvmlError(f"libnvidia-ml.so.1 not loadable: {e}") from e
        self.lib.nvmlErrorString.restype = ctypes.c_char_p
        self._call("nvmlInit_v2")

    def _call(self, name: str, *args) -> None:
        try:
            fn = getattr(self.lib, name)
        except AttributeError as e:
            raise NvmlError(f"{name} missing from libnvidia-ml.so.1 (driver too old)") from e
        ret = fn(*args)
        if ret != NVML_SUCCESS:
            message = self.lib.nvmlErrorString(ret).decode(errors="replace")
            error = NvmlError(f"{name}: {message}")
            error.code = ret
            raise error

    def _string(self, name: str, *args, size: int = 96) -> str:
        buf = ctypes.create_string_buffer(size)
        self._call(name, *args, buf, ctypes.c_uint(size))
        return buf.value.decode(errors="replace")

    def device_count(self) -> int:
        count = ctypes.c_uint()
        self._call("nvmlDeviceGetCount_v2", ctypes.byref(count))
        return count.value

    def handle(self, index: int) -> ctypes.c_void_p:
        h = ctypes.c_void_p()
        self._call("nvmlDeviceGetHandleByIndex_v2", ctypes.c_uint(index), ctypes.byref(h))
        return h

    def handle_by_uuid(self, uuid: str) -> ctypes.c_void_p:
        h = ctypes.c_void_p()
        self._call("nvmlDeviceGetHandleByUUID", ctypes.c_char_p(uuid.encode()), ctypes.byref(h))
        return h

    def driver_version(self) -> str:
        return self._string("nvmlSystemGetDriverVersion", size=80)

    def cuda_driver_version(self) -> str:
        version = ctypes.c_int()
        self._call("nvmlSystemGetCudaDriverVersion_v2", ctypes.byref(version))
        return f"{version.value // 1000}.{(version.value % 1000) // 10}"

    def name(self, h) -> str:
        return self._string("nvmlDeviceGetName", h)

    def uuid(self, h) -> str:
        return self._string("nvmlDeviceGetUUID", h)

    def total_energy_mj(self, h) -> int:
        value = ctypes.c_ulonglong()
        self._call("nvmlDeviceGetTotalEnergyConsumption", h, ctypes.byref(value))
        return value.value

    def power_mw(self, h) -> int:
        value = ctypes.c_uint()
        self._call("nvmlDeviceGetPowerUsage", h, ctypes.byref(value))
        return value.value

    def temperature_c(self, h) -> int:
        value = ctypes.c_uint()
        self._call("nvmlDeviceGetTemperature", h, ctypes.c_int(NVML_TEMPERATURE_GPU), ctypes.byref(value))
        return value.value

    def sm_clock_mhz(self, h) -> int:
        value = ctypes.c_uint()
        self._call("nvmlDeviceGetClockInfo", h, ctypes.c_int(NVML_CLOCK_SM), ctypes.byref(value))
        return value.value

    def throttle_mask(self, h) -> int:
        value = ctypes.c_ulonglong()
        try:
            self._call("nvmlDeviceGetCurrentClocksEventReasons", h, ctypes.byref(value))
        except NvmlError:
            self._call("nvmlDeviceGetCurrentClocksThrottleReasons", h, ctypes.byref(value))
        return value.value

    def power_limit_mw(self, h) -> int:
        value = ctypes.c_uint()
        self._call("nvmlDeviceGetEnforcedPowerLimit", h, ctypes.byref(value))
        return value.value

    def persistence_mode(self, h) -> bool:
        value = ctypes.c_int()
        self._call("nvmlDeviceGetPersistenceMode", h, ctypes.byref(value))
        return value.value == 1

    def mig_mode(self, h) -> Optional[bool]:
        current, pending = ctypes.c_uint(), ctypes.c_uint()
        try:
            self._call("nvmlDeviceGetMigMode", h, ctypes.byref(current), ctypes.byref(pending))
        except NvmlError as e:
            if getattr(e, "code", None) == NVML_ERROR_NOT_SUPPORTED:
                return None
            raise
        return current.value == 1

    def memory_info(self, h) -> _Memory:
        info = _Memory()
        self._call("nvmlDeviceGetMemoryInfo", h, ctypes.byref(info))
        return info


def optional(fn, *args):
    """The value, or None when NVML cannot tell (unsupported on this GPU, MIG slice, old driver)."""
    try:
        return fn(*args)
    except NvmlError:
        return None
