"""Size checks before allocating: a model too large for this machine is one error, not a crash.

The model is first built on the ``meta`` device (shapes, no storage) to count its parameters;
training needs at least weights + gradients + two Adam moments = 4 copies of them.
"""

from __future__ import annotations

import torch

from sciflow.errors import SciflowError

COPIES = 4  # weights, gradients, Adam's first and second moments


def available_bytes(device: torch.device) -> int | None:
    """Free memory of ``device`` (MemAvailable on Linux for the CPU), or None when unknown."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def parameter_count_on_meta(build) -> int | None:
    """Parameters of the model ``build()`` returns, built without storage (None if it cannot be)."""
    try:
        with torch.device("meta"):
            model = build()
    except Exception:  # a constructor that computes with real tensors: no estimate, no harm
        return None
    return sum(p.numel() for p in model.parameters())


def check_model_fits(build, section: dict, dtype: torch.dtype, device: torch.device):
    """Raise SciflowError when the model's training state would not fit in free memory."""
    n = parameter_count_on_meta(build)
    free = available_bytes(device)
    if n is None or free is None:
        return
    need = n * COPIES * torch.finfo(dtype).bits // 8
    if need > 0.8 * free:
        raise SciflowError(f"model {section}: {n:.3g} parameters need about {need / 2**30:.3g} GiB for weights, "
                           f"gradients and optimiser state; {device.type} has {free / 2**30:.3g} GiB free")
