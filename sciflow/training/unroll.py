"""Autoregressive rollout of an operator model and the relative errors its losses and validation use.

A model maps t_in frames to k frames, x (B, t_in, ...) → (B, k, ...); the rollout shifts the input
window by the k new frames each call::

    x_{s+1} = concat(x_s, ŷ_s)[:, −t_in:],   ŷ_s = P(model(x_s))

with P the rollout constraint layer (identity when none is given).
"""

from __future__ import annotations

import torch

from sciflow.errors import SciflowError


def rollout(model, x: torch.Tensor, frames: int, detach_until: int = 0, project=None) -> torch.Tensor:
    """Autoregressive forecast of ``frames`` frames from x (B, t_in, ...) → (B, frames, ...).

    The first ``detach_until`` model calls run without autograd (pushforward: their outputs are fed
    back as constants, so no gradient reaches them and no graph is kept); ``project`` (e.g. a
    :class:`~sciflow.models.state_projection.StateProjection`, called with the output and its input
    window) maps every model output before it is kept and fed back.
    """
    t_in = x.shape[1]
    outs, made, call = [], 0, 0
    while made < frames:
        with torch.set_grad_enabled(torch.is_grad_enabled() and call >= detach_until):
            y = model(x)
            if project is not None:
                y = project(y, x)
        outs.append(y)
        made += y.shape[1]
        x = torch.cat([x, y], dim=1)[:, -t_in:]
        call += 1
    return torch.cat(outs, dim=1)[:, :frames]


def relative_error(pred: torch.Tensor, target: torch.Tensor, kind: str = "rel_l2") -> torch.Tensor:
    """Per-sample relative error (B,) of pred, target (B, ...): rel_l2 or rel_mse."""
    diff = (pred - target).flatten(1).float()
    ref = target.flatten(1).float()
    num, den = (diff * diff).sum(1), (ref * ref).sum(1).clamp_min(1e-30)
    if kind == "rel_l2":
        return torch.sqrt(num / den)
    if kind == "rel_mse":
        return num / den
    raise SciflowError(f"objective.loss: must be 'rel_l2' or 'rel_mse', got {kind!r}")
