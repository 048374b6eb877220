"""Expected failures: each becomes an error payload {type, message, traceback} for the host."""


class HarnessError(Exception):
    """A failure the user can fix; `type` names it in the error payload."""

    type = "HarnessError"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigError(HarnessError):
    type = "ConfigError"


class UnknownPreset(HarnessError):
    type = "UnknownPreset"


class BackendUnavailable(HarnessError):
    type = "BackendUnavailable"


class DatasetError(HarnessError):
    type = "DatasetError"


class DeviceUnavailable(HarnessError):
    type = "DeviceUnavailable"


class UnsupportedPrecision(HarnessError):
    type = "UnsupportedPrecision"


class Interrupted(BaseException):
    """Raised from the SIGTERM handler; a BaseException so no `except Exception` swallows it."""

    type = "Interrupted"

    def __init__(self, signal_name: str = "SIGTERM"):
        super().__init__(f"interrupted by {signal_name}")
        self.message = f"interrupted by {signal_name}"


class ModelUnavailable(HarnessError):
    type = "ModelUnavailable"


class ServerFailed(HarnessError):
    """scenario serving: the inference server died, or never became ready (serving/server.py's
    ServerStartError); the message ends with the tail of its log, which stays in the exchange dir."""

    type = "ServerFailed"
