"""The spec's accelerator switches, checked against the device before a run starts.

* ``amp: bf16`` runs every loss evaluation under ``torch.autocast("cuda", dtype=torch.bfloat16)``
  (matrix products and convolutions in bfloat16, reductions and the optimiser in the run's dtype). It is
  a CUDA feature here: on a CPU or MPS device the switch is refused rather than silently emulated.
* ``compile: true`` wraps the model in ``torch.compile`` (TorchInductor: Triton kernels on CUDA, C++ on
  CPU); a model whose forward is derivative-jet propagation (``CompilesJets``: the PINNs) also compiles its
  activation jet kernels (benchmarks/results/pinn_step.md). MPS is refused (no Inductor backend
  there in the supported torch versions).
"""

from __future__ import annotations

import torch

from sciflow.errors import SciflowError


def check_device_switches(amp: str, compile_model: bool, device: torch.device) -> None:
    """One SciflowError naming the key when ``amp`` or ``compile`` cannot run on ``device``."""
    if amp == "bf16":
        if device.type != "cuda":
            raise SciflowError(f"amp: bf16 autocasts on CUDA devices only; this run's device is '{device}' "
                               "(set amp: none, or device: cuda)")
        if not torch.cuda.is_bf16_supported():
            raise SciflowError(f"amp: bf16 needs a GPU with bfloat16 support; '{torch.cuda.get_device_name(device)}' "
                               "has none (set amp: none)")
    if compile_model and device.type == "mps":
        raise SciflowError("compile: torch.compile has no backend for device 'mps' here (set compile: false)")
