"""A minimal NVML binding over ctypes (libnvidia-ml.so.1), so no pynvml package is needed.

Constants and struct layouts follow nvml.h as mirrored by nvidia-ml-py's pynvml.py. The library is
loaded through load_library(), the one seam tests point at a fake NVML with the same C surface."""

import ctypes
import threading
import time
from typing import Callable, List, Optional

LIBRARY = "libnvidia-ml.so.1"

NVML_SUCCESS = 0
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_IRQ_ISSUE = 11
NVML_ERROR_IN_USE = 19
NVML_ERROR_NO_DATA = 21
NVML_ERROR_NOT_READY = 27
NVML_ERROR_UNKNOWN = 999
# Errors a second try may clear; anything else (GPU lost, no permission, not supported) is final.
TRANSIENT_ERRORS = {NVML_ERROR_TIMEOUT, NVML_ERROR_IRQ_ISSUE, NVML_ERROR_IN_USE, NVML_ERROR_NO_DATA,
                    NVML_ERROR_NOT_READY, NVML_ERROR_UNKNOWN}

NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
NVML_PSTATE_UNKNOWN = 32
NVML_DEVICE_MIG_ENABLE = 1
NVML_FI_DEV_POWER_INSTANT = 186  # milliwatts, not averaged (Zeus reads it for the same reason)

NVML_VALUE_TYPE_DOUBLE = 0
NVML_VALUE_TYPE_UNSIGNED_INT = 1
NVML_VALUE_TYPE_UNSIGNED_LONG = 2
NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3
NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4
NVML_VALUE_TYPE_SIGNED_INT = 5
NVML_VALUE_TYPE_UNSIGNED_SHORT = 6

# nvmlClocksEventReasons (formerly ClocksThrottleReasons) bits.
THROTTLE_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",  # heat, an external power brake or over-current: its own flag, not thermal
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
THERMAL_REASONS = {"sw_thermal_slowdown", "hw_thermal_slowdown"}
POWER_REASONS = {"sw_power_cap", "hw_power_brake_slowdown"}
HW_SLOWDOWN_REASONS = {"hw_slowdown"}


class NvmlError(Exception):
    def __init__(self, message: str, code: Optional[int] = None):
        super().__init__(message)
        self.code = code

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_ERRORS


class _Memory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]


class _Value(ctypes.Union):
    _fields_ = [("dVal", ctypes.c_double), ("uiVal", ctypes.c_uint), ("ulVal", ctypes.c_ulong),
                ("ullVal", ctypes.c_ulonglong), ("sllVal", ctypes.c_longlong), ("siVal", ctypes.c_int),
                ("usVal", ctypes.c_ushort)]


class FieldValue(ctypes.Structure):
    """nvmlFieldValue_t."""
    _fields_ = [("fieldId", ctypes.c_uint32), ("scopeId", ctypes.c_uint32), ("timestamp", ctypes.c_int64),
                ("latencyUsec", ctypes.c_int64), ("valueType", ctypes.c_uint), ("nvmlReturn", ctypes.c_uint),
                ("value", _Value)]


_VALUE_MEMBER = {NVML_VALUE_TYPE_DOUBLE: "dVal", NVML_VALUE_TYPE_UNSIGNED_INT: "uiVal",
                 NVML_VALUE_TYPE_UNSIGNED_LONG: "ulVal", NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: "ullVal",
                 NVML_VALUE_TYPE_SIGNED_LONG_LONG: "sllVal", NVML_VALUE_TYPE_SIGNED_INT: "siVal",
                 NVML_VALUE_TYPE_UNSIGNED_SHORT: "usVal"}


def decode_throttle_reasons(mask: int) -> List[str]:
    names = [name for bit, name in THROTTLE_REASONS.items() if mask & bit]
    unknown = mask & ~sum(THROTTLE_REASONS)
    if unknown:
        names.append(f"unknown_0x{unknown:x}")
    return names


def load_library():
    """libnvidia-ml, or anything with its C functions as attributes (tests pass a fake)."""
    try:
        return ctypes.CDLL(LIBRARY)
    except OSError as e:
        raise NvmlError(f"{LIBRARY} not loadable: {e}") from e


def with_retry(fn: Callable, *args, tries: int = 3, delay_s: float = 0.05, sleep=time.sleep):
    """fn(*args), tried again after a transient NVML error; the last error is raised with the count."""
    for attempt in range(1, tries + 1):
        try:
            return fn(*args)
        except NvmlError as e:
            if not e.transient or attempt == tries:
                if e.transient:
                    raise NvmlError(f"{e} (still failing after {tries} tries)", e.code) from e
                raise
            sleep(delay_s * attempt)


class Nvml:
    """Loaded and initialised once per process; every call raises NvmlError with NVML's own message."""

    _instance: Optional["Nvml"] = None
    _lock = threading.Lock()

    @classmethod
    def get(cls) -> "Nvml":
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls(load_library())
            return cls._instance

    def __init__(self, lib):
        self.lib = lib
        self.lib.nvmlErrorString.restype = ctypes.c_char_p
        self._call("nvmlInit_v2")

    def _call(self, name: str, *args) -> None:
        try:
            fn = getattr(self.lib, name)
        except AttributeError as e:
            raise NvmlError(f"{name} missing from {LIBRARY} (driver too old)", NVML_ERROR_NOT_SUPPORTED) from e
        ret = fn(*args)
        if ret != NVML_SUCCESS:
            raise NvmlError(f"{name}: {self.error_string(ret)}", ret)

    def error_string(self, code: int) -> str:
        text = self.lib.nvmlErrorString(ctypes.c_int(code))
        return text.decode(errors="replace") if text else f"NVML error {code}"

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
        """Board power; averaged over ~1 s on Ampere (except GA100) and newer."""
        value = ctypes.c_uint()
        self._call("nvmlDeviceGetPowerUsage", h, ctypes.byref(value))
        return value.value

    def field_value(self, h, field_id: int) -> float:
        values = (FieldValue * 1)()
        values[0].fieldId = field_id
        self._call("nvmlDeviceGetFieldValues", h, ctypes.c_int(1), values)
        fv = values[0]
        if fv.nvmlReturn != NVML_SUCCESS:
            raise NvmlError(f"nvmlDeviceGetFieldValues({field_id}): {self.error_string(fv.nvmlReturn)}", fv.nvmlReturn)
        member = _VALUE_MEMBER.get(fv.valueType)
        if member is None:
            raise NvmlError(f"nvmlDeviceGetFieldValues({field_id}): unknown value type {fv.valueType}")
        return getattr(fv.value, member)

    def instant_power_mw(self, h) -> float:
        return self.field_value(h, NVML_FI_DEV_POWER_INSTANT)

    def temperature_c(self, h) -> int:
        value = ctypes.c_uint()
        self._call("nvmlDeviceGetTemperature", h, ctypes.c_int(NVML_TEMPERATURE_GPU), ctypes.byref(value))
        return value.value

    def sm_clock_mhz(self, h) -> int:
        value = ctypes.c_uint()
        self._call("nvmlDeviceGetClockInfo", h, ctypes.c_int(NVML_CLOCK_SM), ctypes.byref(value))
        return value.value

    def pstate(self, h) -> Optional[str]:
        """Performance state P0 (maximum) .. P15 (minimum); None where NVML says unknown."""
        value = ctypes.c_uint()
        self._call("nvmlDeviceGetPerformanceState", h, ctypes.byref(value))
        return None if value.value == NVML_PSTATE_UNKNOWN else f"P{value.value}"

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

    def default_power_limit_mw(self, h) -> int:
        value = ctypes.c_uint()
        self._call("nvmlDeviceGetPowerManagementDefaultLimit", h, ctypes.byref(value))
        return value.value

    def applications_clock_mhz(self, h, clock: int) -> int:
        """The clock (NVML_CLOCK_SM, NVML_CLOCK_MEM) the GPU targets under load, as set by
        nvidia-smi -ac (or the default where none was set)."""
        value = ctypes.c_uint()
        self._call("nvmlDeviceGetApplicationsClock", h, ctypes.c_int(clock), ctypes.byref(value))
        return value.value

    def default_applications_clock_mhz(self, h, clock: int) -> int:
        value = ctypes.c_uint()
        self._call("nvmlDeviceGetDefaultApplicationsClock", h, ctypes.c_int(clock), ctypes.byref(value))
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
            if e.code == NVML_ERROR_NOT_SUPPORTED:
                return None
            raise
        return current.value == NVML_DEVICE_MIG_ENABLE

    def is_mig_handle(self, h) -> bool:
        value = ctypes.c_uint()
        try:
            self._call("nvmlDeviceIsMigDeviceHandle", h, ctypes.byref(value))
        except NvmlError as e:
            if e.code == NVML_ERROR_NOT_SUPPORTED:
                return False
            raise
        return value.value != 0

    def mig_parent(self, h) -> ctypes.c_void_p:
        parent = ctypes.c_void_p()
        self._call("nvmlDeviceGetDeviceHandleFromMigDeviceHandle", h, ctypes.byref(parent))
        return parent

    def mig_children(self, h) -> list:
        """Handles of the MIG instances on a GPU with MIG enabled; [] where it has none."""
        count = ctypes.c_uint()
        self._call("nvmlDeviceGetMaxMigDeviceCount", h, ctypes.byref(count))
        children = []
        for i in range(count.value):
            child = ctypes.c_void_p()
            try:
                self._call("nvmlDeviceGetMigDeviceHandleByIndex", h, ctypes.c_uint(i), ctypes.byref(child))
            except NvmlError as e:
                if e.code == NVML_ERROR_NOT_FOUND:
                    continue  # slots without an instance
                raise
            children.append(child)
        return children

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
