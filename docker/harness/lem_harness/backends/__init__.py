"""Inference backends: pytorch (synthetic presets, transformers models) and vllm."""

from .base import Backend


def create_backend(config: dict) -> Backend:
    """Backends import their heavy dependencies lazily, so a missing one fails with a clear payload."""
    if config["backend"] == "vllm":
        from .vllm_backend import VllmBackend

        return VllmBackend(config)
    from .pytorch_backend import PytorchBackend

    return PytorchBackend(config)
