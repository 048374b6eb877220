"""A fake libnvidia-ml at the ctypes boundary: every function the binding calls is a C function pointer
(ctypes CFUNCTYPE) with NVML's prototype, writing through the pointers it is given, so the real binding
code (argument types, byref, buffers, nvmlFieldValue_t layout, return codes) runs as against the driver.

Each GPU is scripted: energy counter readings, averaged and instantaneous power, temperature, SM clock,
performance state, throttle mask, power limit and application clocks, MIG mode and instances (each named
by its profile, as NVML names them), and error codes for chosen calls. Load drives a GPU's counter and
power readings from one power curve in virtual time, so a long window runs in no time."""

import ctypes
import math
import threading
import time
from collections import Counter
from ctypes import CFUNCTYPE, POINTER, c_char_p, c_int, c_uint, c_ulonglong, c_void_p
from typing import Callable, Dict, List, Optional, Sequence, Union

import helpers  # noqa: F401
from lem_harness.energy import nvml as binding

# nvmlReturn_t values (nvml.h; nvidia-ml-py's pynvml.py), written here independently of the binding.
SUCCESS = 0
INVALID_ARGUMENT = 2
NOT_SUPPORTED = 3
NOT_FOUND = 6
INSUFFICIENT_SIZE = 7
TIMEOUT = 10
GPU_IS_LOST = 15
UNKNOWN = 999
MESSAGES = {SUCCESS: "Success", INVALID_ARGUMENT: "Invalid Argument", NOT_SUPPORTED: "Not Supported",
            NOT_FOUND: "Not Found", INSUFFICIENT_SIZE: "Insufficient Size", TIMEOUT: "Timeout",
            GPU_IS_LOST: "GPU is lost", UNKNOWN: "Unknown Error"}
FI_DEV_POWER_INSTANT = 186
VALUE_TYPE_UNSIGNED_INT = 1
VALUE_TYPE_SIGNED_INT = 5


class _Value(ctypes.Union):
    _fields_ = [("dVal", ctypes.c_double), ("uiVal", c_uint), ("ulVal", ctypes.c_ulong),
                ("ullVal", c_ulonglong), ("sllVal", ctypes.c_longlong), ("siVal", c_int), ("usVal", ctypes.c_ushort)]


class FieldValue(ctypes.Structure):
    _fields_ = [("fieldId", ctypes.c_uint32), ("scopeId", ctypes.c_uint32), ("timestamp", ctypes.c_int64),
                ("latencyUsec", ctypes.c_int64), ("valueType", c_uint), ("nvmlReturn", c_uint), ("value", _Value)]


Script = Union[int, float, Sequence, Callable[[], float]]


def _next(script: Script, state: dict, key: str):
    """A constant, successive values of a list (the last repeats), or a function's value now."""
    if callable(script):
        return script()
    if isinstance(script, (list, tuple)):
        i = state.get(key, 0)
        state[key] = i + 1
        return script[min(i, len(script) - 1)]
    return script


class Mig:
    def __init__(self, uuid: str, name: str = "NVIDIA H100 80GB HBM3 MIG 1g.10gb"):
        """name: as nvmlDeviceGetName gives a MIG device's, `<GPU name> MIG <profile>`."""
        self.uuid, self.name = uuid, name


class Gpu:
    def __init__(self, uuid: str, name: str = "NVIDIA H100 80GB HBM3", energy_mj: Optional[Script] = 1_000_000,
                 power_mw: Script = 300_000, instant_mw: Optional[Script] = None,
                 instant_type: int = VALUE_TYPE_UNSIGNED_INT, temperature_c: int = 45, sm_clock_mhz: Script = 1980,
                 pstate: Script = 0, throttle_mask: int = 0, mig_mode: Optional[bool] = None,
                 migs: Sequence[Mig] = (), errors: Optional[Dict[str, Union[int, List[int]]]] = None,
                 power_limit_mw: Optional[int] = 700_000, default_power_limit_mw: Optional[int] = 700_000,
                 app_clocks_mhz: Optional[tuple] = (1980, 2619), default_app_clocks_mhz: Optional[tuple] = (1980, 2619)):
        """energy_mj None: no counter (NOT_SUPPORTED); instant_mw None: no instantaneous field;
        mig_mode None: MIG not supported; errors: {function: code (always) or [codes of the next calls]};
        power limits and application clocks ((SM, memory) MHz) None: NOT_SUPPORTED."""
        self.uuid, self.name = uuid, name
        self.energy_mj, self.power_mw, self.instant_mw, self.instant_type = energy_mj, power_mw, instant_mw, instant_type
        self.temperature_c, self.sm_clock_mhz, self.pstate, self.throttle_mask = temperature_c, sm_clock_mhz, pstate, throttle_mask
        self.mig_mode, self.migs = mig_mode, list(migs)
        self.errors = dict(errors or {})
        self.power_limit_mw, self.default_power_limit_mw = power_limit_mw, default_power_limit_mw
        self.app_clocks_mhz, self.default_app_clocks_mhz = app_clocks_mhz, default_app_clocks_mhz


def ramp(watts: float) -> Callable[[], int]:
    """An energy counter (mJ) that advances at `watts` in real time, as a GPU's does under load."""
    t0 = time.monotonic()
    return lambda: int(1_000_000 + (time.monotonic() - t0) * watts * 1000)


class Load:
    """A GPU's power over virtual time: steps [(from_s, watts)] plus a sine ripple (token-rate spikes
    the sampler cannot follow), with exact integrals, so the counter, the instantaneous field and the
    1 s average all tell one story. The test advances the clock; the session samples it as `clock`."""

    def __init__(self, steps: Sequence[tuple], ripple_w: float = 0.0, ripple_hz: float = 7.3, counter_scale: float = 1.0,
                 idle_w: Optional[float] = None):
        """idle_w: the power before t = 0 (default the first step's), what a 1 s average trails from."""
        self.steps = sorted(steps)
        self.ripple_w, self.ripple_hz, self.counter_scale = ripple_w, ripple_hz, counter_scale
        self.idle_w = self.steps[0][1] if idle_w is None else idle_w
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def watts_at(self, t: float) -> float:
        if t < 0:
            return self.idle_w
        level = [w for start, w in self.steps if start <= t]
        return (level[-1] if level else self.idle_w) + self.ripple_w * math.sin(2 * math.pi * self.ripple_hz * t)

    def energy_j(self, t: float) -> float:
        """Joules from t = 0 to t (negative before 0: the idle power)."""
        if t <= 0:
            return self.idle_w * t
        bounds = [start for start, _ in self.steps if 0 < start < t] + [t]
        joules, prev = 0.0, 0.0
        for edge in bounds:
            joules += (self.watts_at(prev) - self.ripple_w * math.sin(2 * math.pi * self.ripple_hz * prev)) * (edge - prev)
            prev = edge
        w = 2 * math.pi * self.ripple_hz
        return joules + (self.ripple_w / w * (1 - math.cos(w * t)) if self.ripple_w else 0.0)

    def counter_mj(self) -> int:
        return int(round(1_000_000 + self.energy_j(self.t) * 1000 * self.counter_scale))

    def instant_mw(self) -> int:
        return int(round(self.watts_at(self.t) * 1000))

    def averaged_mw(self) -> int:
        """nvmlDeviceGetPowerUsage on Ampere and newer: the mean over the last second."""
        return int(round((self.energy_j(self.t) - self.energy_j(self.t - 1.0)) * 1000))


class FakeNvml:
    def __init__(self, gpus: Sequence[Gpu]):
        self.gpus = list(gpus)
        self.calls: Counter = Counter()
        self._lock = threading.Lock()
        self._state: dict = {}
        self._messages = {code: ctypes.create_string_buffer(text.encode()) for code, text in MESSAGES.items()}
        self._handles: dict = {}
        for i, gpu in enumerate(self.gpus):
            base = 0x1000 * (i + 1)
            self._handles[base] = (gpu, None)
            for j, mig in enumerate(gpu.migs):
                self._handles[base + j + 1] = (gpu, mig)
        self.lib = _Lib(self)

    def handle_of(self, gpu: Gpu, mig: Optional[Mig] = None) -> int:
        return next(h for h, (g, m) in self._handles.items() if g is gpu and m is mig)

    def install(self, test) -> binding.Nvml:
        """Points the binding's loader at this fake for the test's duration; returns Nvml.get()."""
        original = binding.load_library
        binding.load_library = lambda: self.lib
        binding.Nvml._instance = None

        def restore():
            binding.load_library = original
            binding.Nvml._instance = None
        test.addCleanup(restore)
        return binding.Nvml.get()

    # --- helpers for the C functions -------------------------------------------------------------

    def _enter(self, name: str, gpu: Optional[Gpu] = None) -> int:
        with self._lock:
            self.calls[name] += 1
            if gpu is None:
                return SUCCESS
            script = gpu.errors.get(name)
            if isinstance(script, list):
                return script.pop(0) if script else SUCCESS
            return script or SUCCESS

    def _device(self, h):
        return self._handles.get(h or 0, (None, None))

    def _value(self, gpu: Gpu, attr: str):
        with self._lock:
            return _next(getattr(gpu, attr), self._state, f"{id(gpu)}.{attr}")


def _write_string(buf: int, size: int, text: str) -> int:
    data = text.encode() + b"\0"
    if len(data) > size:
        return INSUFFICIENT_SIZE
    ctypes.memmove(buf, data, len(data))
    return SUCCESS


class _Lib:
    """The C surface: attributes named and typed like libnvidia-ml's exports."""

    def __init__(self, fake: FakeNvml):
        f = fake
        self._keep = []

        def export(name, restype, *argtypes):
            def wrap(fn):
                cfn = CFUNCTYPE(restype, *argtypes)(fn)
                self._keep.append(cfn)
                setattr(self, name, cfn)
                return fn
            return wrap

        @export("nvmlInit_v2", c_int)
        def init():
            return f._enter("nvmlInit_v2")

        @export("nvmlErrorString", c_void_p, c_int)
        def error_string(code):
            return ctypes.addressof(f._messages.get(code, f._messages[UNKNOWN]))

        @export("nvmlSystemGetDriverVersion", c_int, c_void_p, c_uint)
        def driver_version(buf, size):
            return _write_string(buf, size, "550.54.15")

        @export("nvmlDeviceGetCount_v2", c_int, POINTER(c_uint))
        def count(out):
            out[0] = len(f.gpus)
            return f._enter("nvmlDeviceGetCount_v2")

        @export("nvmlDeviceGetHandleByIndex_v2", c_int, c_uint, POINTER(c_void_p))
        def by_index(index, out):
            f._enter("nvmlDeviceGetHandleByIndex_v2")
            if index >= len(f.gpus):
                return INVALID_ARGUMENT
            out[0] = f.handle_of(f.gpus[index])
            return SUCCESS

        @export("nvmlDeviceGetHandleByUUID", c_int, c_char_p, POINTER(c_void_p))
        def by_uuid(uuid, out):
            f._enter("nvmlDeviceGetHandleByUUID")
            for h, (gpu, mig) in f._handles.items():
                if (mig or gpu).uuid == uuid.decode():
                    out[0] = h
                    return SUCCESS
            return NOT_FOUND

        def device_call(name, *argtypes):
            """A per-device function: unknown handles are invalid, scripted errors come first."""
            def wrap(fn):
                def call(h, *args):
                    gpu, mig = f._device(h)
                    if gpu is None:
                        return INVALID_ARGUMENT
                    code = f._enter(name, gpu)
                    return code if code != SUCCESS else fn(gpu, mig, *args)
                export(name, c_int, c_void_p, *argtypes)(call)
                return fn
            return wrap

        @device_call("nvmlDeviceGetName", c_void_p, c_uint)
        def name(gpu, mig, buf, size):
            return _write_string(buf, size, (mig or gpu).name)

        @device_call("nvmlDeviceGetUUID", c_void_p, c_uint)
        def uuid(gpu, mig, buf, size):
            return _write_string(buf, size, (mig or gpu).uuid)

        @device_call("nvmlDeviceGetTotalEnergyConsumption", POINTER(c_ulonglong))
        def energy(gpu, mig, out):
            if mig is not None or gpu.energy_mj is None:
                return NOT_SUPPORTED
            out[0] = int(f._value(gpu, "energy_mj"))
            return SUCCESS

        @device_call("nvmlDeviceGetPowerUsage", POINTER(c_uint))
        def power(gpu, mig, out):
            if mig is not None:
                return NOT_SUPPORTED
            out[0] = int(f._value(gpu, "power_mw"))
            return SUCCESS

        @device_call("nvmlDeviceGetFieldValues", c_int, c_void_p)
        def field_values(gpu, mig, count, address):
            values = ctypes.cast(address, POINTER(FieldValue))  # this file's own nvmlFieldValue_t
            for i in range(count):
                fv = values[i]
                if fv.fieldId == FI_DEV_POWER_INSTANT and gpu.instant_mw is not None and mig is None:
                    fv.valueType = gpu.instant_type
                    reading = int(f._value(gpu, "instant_mw"))
                    if gpu.instant_type == VALUE_TYPE_SIGNED_INT:
                        fv.value.siVal = reading
                    else:
                        fv.value.uiVal = reading
                    fv.nvmlReturn = SUCCESS
                else:
                    fv.nvmlReturn = NOT_SUPPORTED
            return SUCCESS  # per-field outcomes are in nvmlReturn, as NVML reports them

        @device_call("nvmlDeviceGetTemperature", c_int, POINTER(c_uint))
        def temperature(gpu, mig, sensor, out):
            if sensor != 0:
                return INVALID_ARGUMENT
            out[0] = gpu.temperature_c
            return SUCCESS

        @device_call("nvmlDeviceGetClockInfo", c_int, POINTER(c_uint))
        def clock(gpu, mig, kind, out):
            if kind != 1:  # NVML_CLOCK_SM
                return NOT_SUPPORTED
            out[0] = int(f._value(gpu, "sm_clock_mhz"))
            return SUCCESS

        @device_call("nvmlDeviceGetCurrentClocksEventReasons", POINTER(c_ulonglong))
        def reasons(gpu, mig, out):
            out[0] = gpu.throttle_mask
            return SUCCESS

        @device_call("nvmlDeviceGetPerformanceState", POINTER(c_uint))
        def pstate(gpu, mig, out):
            out[0] = int(f._value(gpu, "pstate"))
            return SUCCESS

        @device_call("nvmlDeviceGetMigMode", POINTER(c_uint), POINTER(c_uint))
        def mig_mode(gpu, mig, current, pending):
            if gpu.mig_mode is None or mig is not None:
                return NOT_SUPPORTED
            current[0] = pending[0] = 1 if gpu.mig_mode else 0
            return SUCCESS

        @device_call("nvmlDeviceIsMigDeviceHandle", POINTER(c_uint))
        def is_mig(gpu, mig, out):
            out[0] = 1 if mig is not None else 0
            return SUCCESS

        @device_call("nvmlDeviceGetDeviceHandleFromMigDeviceHandle", POINTER(c_void_p))
        def parent(gpu, mig, out):
            if mig is None:
                return INVALID_ARGUMENT
            out[0] = f.handle_of(gpu)
            return SUCCESS

        @device_call("nvmlDeviceGetMaxMigDeviceCount", POINTER(c_uint))
        def max_migs(gpu, mig, out):
            out[0] = 7 if gpu.mig_mode else 0
            return SUCCESS

        @device_call("nvmlDeviceGetMigDeviceHandleByIndex", c_uint, POINTER(c_void_p))
        def mig_by_index(gpu, mig, index, out):
            if index >= len(gpu.migs):
                return NOT_FOUND
            out[0] = f.handle_of(gpu, gpu.migs[index])
            return SUCCESS

        def limit(attr):
            def read(gpu, mig, out):
                value = getattr(gpu, attr)
                if value is None or mig is not None:
                    return NOT_SUPPORTED
                out[0] = value
                return SUCCESS
            return read

        device_call("nvmlDeviceGetEnforcedPowerLimit", POINTER(c_uint))(limit("power_limit_mw"))
        device_call("nvmlDeviceGetPowerManagementDefaultLimit", POINTER(c_uint))(limit("default_power_limit_mw"))

        def app_clock(attr):
            def read(gpu, mig, kind, out):
                clocks = getattr(gpu, attr)
                if clocks is None or mig is not None or kind not in (1, 2):  # NVML_CLOCK_SM, NVML_CLOCK_MEM
                    return NOT_SUPPORTED
                out[0] = clocks[kind - 1]
                return SUCCESS
            return read

        device_call("nvmlDeviceGetApplicationsClock", c_int, POINTER(c_uint))(app_clock("app_clocks_mhz"))
        device_call("nvmlDeviceGetDefaultApplicationsClock", c_int, POINTER(c_uint))(app_clock("default_app_clocks_mhz"))

        @device_call("nvmlDeviceGetMemoryInfo", c_void_p)
        def memory(gpu, mig, address):
            out = ctypes.cast(address, POINTER(c_ulonglong))  # nvmlMemory_t: total, free, used
            out[0], out[1], out[2] = 80 << 30, 70 << 30, 10 << 30
            return SUCCESS
