"""Baseline neural operators from ``neuraloperator`` (FNO, IFNO), built from the spec.

* FNO (Li et al., ICLR 2021, eq. 2): v_{l+1} = σ(W v_l + K(v_l)), K a truncated Fourier
  multiplier; ``neuralop.models.FNO`` with its lifting/projection MLPs, channel MLPs and skips.
* IFNO (implicit FNO, You et al., NeurIPS 2022): one Fourier layer whose weights are shared by
  all ``iterations`` applications, v_{l+1} = v_l + (1/L) σ(W v_l + K(v_l)); here: an FNO whose
  ``n_layers`` blocks all alias block 0 (one layer's weights iterated).  The residual form with
  step 1/L is the IFNO layer update; neuralop's block adds the skip W v internally, and the
  outer residual + 1/L scaling makes the iteration a fixed-step integrator.

Shapes (``forward(x)``), chosen by the problem:

* 2D fields (default): x (B, t_in, X, Y) → (B, t_out, X, Y), channel-first as neuralop expects.
* Turbulent channel (a problem with u, v, w on an (x, y, z) ``grid()``, :func:`channel_grid`): the
  IFactFormer layout x (B, t_in, X, Y, Z, 3) → (B, 1, X, Y, Z, 3), per-channel normalised velocities.
  A 3D FNO/IFNO maps the 3·t_in input channels to the 3 velocity channels (y treated as periodic by the
  FFT, the FNO practice); ``residual`` adds the last input state (the net predicts the increment over one
  snapshot interval) and ``no_slip`` sets the y = ±1 rows to the normalised zero velocity −μ_c/σ_c, exactly
  (both on by default, as in IFactFormer, so the comparison is like for like).

``modes`` counts Fourier modes per direction kept on each side (neuralop's ``n_modes`` = 2·modes).
"""

from __future__ import annotations

import torch
from torch import nn

from sciflow.errors import SciflowError
from sciflow.models.channel_walls import channel_grid, check_walls, impose_no_slip, wall_value
from sciflow.models.base import OperatorModel
from sciflow.models.registry import register_model
from sciflow.bounds import Depth, Modes, Width
from sciflow.problems.base import Trajectories


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


def _fno(in_channels: int, out_channels: int, width: int, modes: int, layers: int, channel_mlp: bool, dims: int):
    """neuralop's FNO on a ``dims``-D grid: (B, in_channels, *grid) → (B, out_channels, *grid)."""
    from neuralop.models import FNO

    return FNO(n_modes=(2 * modes,) * dims, in_channels=in_channels, out_channels=out_channels,
               hidden_channels=width, n_layers=layers, use_channel_mlp=channel_mlp, positional_embedding="grid")


def keep_first_block(net: nn.Module) -> nn.Module:
    """Truncate a neuralop FNO's blocks (``fno_blocks``: per-layer ModuleLists of convs, skips, MLPs) to block 0,
    in place: IFNO's one shared layer.  Block 0 is a non-final block (it applies the nonlinearity)."""
    blocks = net.fno_blocks
    for name, child in list(blocks.named_children()):
        if isinstance(child, nn.ModuleList):
            setattr(blocks, name, nn.ModuleList([child[0]]))
    return net


def iterate_first_block(net: nn.Module, x: torch.Tensor, iterations: int) -> torch.Tensor:
    """IFNO's forward on a truncated FNO (:func:`keep_first_block`): v = lift(x), then ``iterations`` times
    v ← v + block₀(v)/L, then project; x (B, C_in, *grid) → (B, C_out, *grid)."""
    if net.positional_embedding is not None:
        x = net.positional_embedding(x)
    v = net.lifting(x)
    h = 1.0 / iterations
    for _ in range(iterations):
        v = v + h * net.fno_blocks(v, 0)
    return net.projection(v)


class _NeuralOperator(_ComplexSafe, OperatorModel):
    """FNO/IFNO I/O for the problem's layout (module docstring) around a channel-first core
    (``core``: (B, C_in, *grid) → (B, C_out, *grid), ``self.net`` a neuralop FNO of ``layers`` blocks).

    2D: C_in = t_in, C_out = t_out, grid (X, Y).  Channel: C_in = 3·t_in, C_out = 3, grid (X, Y, Z), t_out = 1.
    """

    requires = (Trajectories,)

    def __init__(self, problem, width: int, modes: int, layers: int, t_out: int, channel_mlp: bool,
                 residual: bool | None, no_slip: bool | None):
        super().__init__()
        grid = channel_grid(problem)
        self.channel = grid is not None
        name = type(self).registry_name
        if self.channel:
            if int(t_out) != 1:
                raise SciflowError(f"model.t_out: {name} on the channel predicts one state per call (t_out = 1), "
                                   f"got {t_out}")
            self.t_in, self.t_out, self.channels = int(problem.t_in), 1, 3
            self.residual = True if residual is None else bool(residual)
            self.no_slip = True if no_slip is None else bool(no_slip)
            if self.no_slip:
                check_walls(torch.as_tensor(grid["y"]).flatten())
            self.register_buffer("wall_value", wall_value(problem.stats()), persistent=False)
            self.net = _fno(self.channels * self.t_in, self.channels, width, modes, layers, channel_mlp, dims=3)
        else:
            if residual is not None or no_slip is not None:
                raise SciflowError(f"model: 'residual' / 'no_slip' of {name} apply to channel problems only")
            self.t_in = int(problem.t_in) if problem is not None else 10
            self.t_out = int(t_out)
            self.net = _fno(self.t_in, self.t_out, width, modes, layers, channel_mlp, dims=2)

    def core(self, u: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """2D: x (B, t_in, X, Y) → (B, t_out, X, Y).  Channel: x (B, t_in, X, Y, Z, 3) → (B, 1, X, Y, Z, 3)."""
        if not self.channel:
            return self.core(x)
        if x.dim() != 6 or x.shape[1] != self.t_in or x.shape[-1] != self.channels:
            raise SciflowError(f"{type(self).registry_name}: expects (B, {self.t_in}, X, Y, Z, {self.channels}) "
                               f"on the channel, got {tuple(x.shape)}")
        b, t, nx, ny, nz, c = x.shape
        u = x.permute(0, 1, 5, 2, 3, 4).reshape(b, t * c, nx, ny, nz)  # (B, t_in·3, X, Y, Z), frame-major
        out = self.core(u).permute(0, 2, 3, 4, 1)  # (B, X, Y, Z, 3)
        if self.residual:
            out = out + x[:, -1]
        if self.no_slip:  # y = ±1 rows: zero physical velocity, exactly
            out = impose_no_slip(out, self.wall_value)
        return out.unsqueeze(1)


@register_model("fno")
class FNOBaseline(_NeuralOperator):
    """neuraloperator's FNO. Spec keys: width (hidden channels), modes, layers, t_out, channel_mlp;
    channel only: residual, no_slip (default true)."""

    def __init__(self, problem=None, width: Width = 20, modes: Modes = 12, layers: Depth = 4, t_out: Depth = 1,
                 channel_mlp: bool = True, residual: bool | None = None, no_slip: bool | None = None):
        super().__init__(problem, width, modes, layers, t_out, channel_mlp, residual, no_slip)

    def core(self, u: torch.Tensor) -> torch.Tensor:
        return self.net(u)


@register_model("ifno")
class IFNO(_NeuralOperator):
    """Implicit FNO: one neuralop Fourier block iterated ``iterations`` times with shared weights.

    Spec keys: width, modes, iterations, t_out, channel_mlp; channel only: residual, no_slip (default true).
    """

    def __init__(self, problem=None, width: Width = 20, modes: Modes = 12, iterations: Depth = 4, t_out: Depth = 1,
                 channel_mlp: bool = True, residual: bool | None = None, no_slip: bool | None = None):
        super().__init__(problem, width, modes, 2, t_out, channel_mlp, residual, no_slip)
        keep_first_block(self.net)
        self.iterations = int(iterations)

    def core(self, u: torch.Tensor) -> torch.Tensor:
        return iterate_first_block(self.net, u, self.iterations)
