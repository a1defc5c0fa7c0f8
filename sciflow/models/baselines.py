"""Baseline neural operators from ``neuraloperator`` (FNO, IFNO), built from the spec.

* FNO (Li et al., ICLR 2021, eq. 2): v_{l+1} = σ(W v_l + K(v_l)), K a truncated Fourier
  multiplier; ``neuralop.models.FNO`` with its lifting/projection MLPs, channel MLPs and skips.
* IFNO (implicit FNO, You et al., NeurIPS 2022): one Fourier layer whose weights are shared by
  all ``iterations`` applications, v_{l+1} = v_l + (1/L) σ(W v_l + K(v_l)); here: an FNO whose
  ``n_layers`` blocks all alias block 0 (one layer's weights iterated).  The residual form with
  step 1/L is the IFNO layer update; neuralop's block adds the skip W v internally, and the
  outer residual + 1/L scaling makes the iteration a fixed-step integrator.

Shapes: ``forward(x)``: x (B, t_in, X, Y) → (B, t_out, X, Y), channel-first as neuralop expects.
``modes`` counts Fourier modes per direction kept on each side (neuralop's ``n_modes`` = 2·modes).
"""

from __future__ import annotations

import torch
from torch import nn

from sciflow.models.registry import register_model


_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128, torch.float16: torch.complex32,
            torch.bfloat16: torch.complex64}


class _ComplexSafe(nn.Module):
    """``.to(dtype)`` keeps neuralop's complex spectral weights complex (float64 → complex128):
    ``nn.Module.to`` would cast them to the real dtype and drop their imaginary parts."""

    def to(self, *args, **kwargs):
        device, dtype, non_blocking, _ = torch._C._nn._parse_to(*args, **kwargs)

        def convert(t):
            if dtype is None or not (t.is_floating_point() or t.is_complex()):
                return t.to(device, non_blocking=non_blocking)
            return t.to(device, _COMPLEX[dtype] if t.is_complex() else dtype, non_blocking=non_blocking)

        return self._apply(convert)

    def double(self):
        return self.to(torch.float64)

    def float(self):
        return self.to(torch.float32)

    def state_dict(self, *args, **kwargs):
        """Tensors only: neuralop adds a ``_metadata`` dict of its constructor kwargs, dropped here
        (the spec rebuilds the model)."""
        sd = super().state_dict(*args, **kwargs)
        sd.pop("_metadata", None)
        return sd

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        state_dict = {k: v for k, v in state_dict.items() if k != "_metadata"}
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


def real_parameter_count(model: nn.Module) -> int:
    """Trainable real numbers of a model (a complex weight counts twice)."""
    return int(sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters() if p.requires_grad))


def _fno(t_in: int, t_out: int, width: int, modes: int, layers: int, channel_mlp: bool):
    from neuralop.models import FNO

    return FNO(n_modes=(2 * modes, 2 * modes), in_channels=t_in, out_channels=t_out, hidden_channels=width,
               n_layers=layers, use_channel_mlp=channel_mlp, positional_embedding="grid")


@register_model("fno")
class FNOBaseline(_ComplexSafe):
    """neuraloperator's FNO. Spec keys: width (hidden channels), modes, layers, t_out, channel_mlp."""

    def __init__(self, problem=None, width: int = 20, modes: int = 12, layers: int = 4, t_out: int = 1,
                 channel_mlp: bool = True):
        super().__init__()
        self.t_in = int(getattr(problem, "t_in", 10)) if problem is not None else 10
        self.t_out = int(t_out)
        self.net = _fno(self.t_in, self.t_out, width, modes, layers, channel_mlp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@register_model("ifno")
class IFNO(_ComplexSafe):
    """Implicit FNO: one neuralop Fourier block iterated ``iterations`` times with shared weights.

    Spec keys: width, modes, iterations, t_out, channel_mlp.
    """

    def __init__(self, problem=None, width: int = 20, modes: int = 12, iterations: int = 4, t_out: int = 1,
                 channel_mlp: bool = True):
        super().__init__()
        self.t_in = int(getattr(problem, "t_in", 10)) if problem is not None else 10
        self.t_out, self.iterations = int(t_out), int(iterations)
        net = _fno(self.t_in, self.t_out, width, modes, 2, channel_mlp)
        # block 0 is a non-final block (it applies the nonlinearity); keep only it
        blocks = net.fno_blocks
        for name, child in list(blocks.named_children()):
            if isinstance(child, nn.ModuleList):
                setattr(blocks, name, nn.ModuleList([child[0]]))
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net = self.net
        if net.positional_embedding is not None:
            x = net.positional_embedding(x)
        v = net.lifting(x)
        h = 1.0 / self.iterations
        for _ in range(self.iterations):
            v = v + h * net.fno_blocks(v, 0)
        return net.projection(v)
