"""Device selection and DistributedDataParallel set-up (``torchrun --nproc-per-node N``)."""

from __future__ import annotations

import os

import torch

from sciflow.errors import SciflowError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; under torchrun each rank takes cuda:LOCAL_RANK."""
    if name == "auto":
        if torch.cuda.is_available():
            name = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise SciflowError(f"device: '{name}' is not a device (auto, cpu, cuda, cuda:N, mps)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SciflowError(f"device: '{name}' requested but CUDA is not available")
    return dev


def init_distributed(device: torch.device) -> tuple[int, int]:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1). Returns (rank, world)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def wrap_ddp(model, device: torch.device, world: int):
    if world <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def all_reduce_mean(t: torch.Tensor, world: int) -> torch.Tensor:
    """Mean of a scalar over ranks (so every rank's L-BFGS line search sees the same loss)."""
    if world <= 1:
        return t
    import torch.distributed as dist

    t = t.detach().clone()
    dist.all_reduce(t)
    return t / world


def barrier(world: int):
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
