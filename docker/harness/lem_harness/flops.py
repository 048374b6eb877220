"""Forward-pass FLOPs estimate: 2 x parameters x tokens processed (attention's own FLOPs excluded)."""

from typing import Optional

METHOD = "2*N_params*tokens (forward pass, excludes attention)"


def flops_estimate(n_params: Optional[int], n_params_method: str, input_tokens: int, output_tokens: int) -> dict:
    if n_params is None:
        # The schema requires numbers here; 0 with the reason in `method` is the honest reading.
        return {"total": 0, "per_output_token": None, "n_params": 0, "estimated": True,
                "method": f"unknown: parameter count unavailable ({n_params_method})"}
    total = 2.0 * n_params * (input_tokens + output_tokens)
    return {
        "total": total,
        "per_output_token": total / output_tokens if output_tokens else None,
        "n_params": int(n_params),
        "method": METHOD,
        "estimated": True,
    }
