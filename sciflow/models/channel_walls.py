"""Turbulent-channel layout shared by the channel surrogates (IFactFormer, FNO/IFNO): the problem's grid and
the no-slip walls as a hard output constraint.

States are (…, X, Y, Z, 3): u, v, w on the coarse grid, y (wall-normal) with the walls y = ±1 as its first and
last rows, per-channel normalised ũ_c = (u_c − μ_c)/σ_c.  Zero physical velocity at the walls is therefore
ũ_c = −μ_c/σ_c (the *wall value*).
"""

from __future__ import annotations

import torch

from sciflow.errors import SciflowError
from sciflow.problems.base import StructuredGrid

VELOCITY = ("u", "v", "w")


def channel_grid(problem) -> dict | None:
    """The grid {x (X,), y (Y,), z (Z,), lx, lz} of a channel-type problem, else None.

    Channel-type: 3 velocity fields u, v, w on (x, y, z) inputs and a ``grid()`` (no arguments) returning
    the x, y, z coordinates (:meth:`sciflow.problems.channel.TurbulentChannel.grid`).  Calling ``grid()``
    may make the problem's data set on first use.
    """
    if not isinstance(problem, StructuredGrid):
        return None
    if tuple(problem.field_names) != VELOCITY or not {"x", "y", "z"} <= set(problem.inputs):
        return None
    grid = problem.grid()
    return grid if isinstance(grid, dict) and {"x", "y", "z"} <= set(grid) else None


def wall_value(stats: dict | None) -> torch.Tensor:
    """Normalised zero velocity −μ_c/σ_c (3,) from the train statistics {var: (mean, std)} (None: zeros)."""
    mean = [stats[v][0] for v in VELOCITY] if stats else [0.0, 0.0, 0.0]
    std = [stats[v][1] for v in VELOCITY] if stats else [1.0, 1.0, 1.0]
    return -torch.tensor(mean) / torch.tensor(std)


def check_walls(y: torch.Tensor) -> None:
    """Raise unless the wall-normal points y (Y,) start and end at the walls ±1 (needed by ``no_slip``)."""
    if not (abs(float(y[0]) + 1) < 1e-6 and abs(float(y[-1]) - 1) < 1e-6):
        raise SciflowError(f"model.no_slip: the y grid must start and end at the walls ±1, got "
                           f"{float(y[0])} … {float(y[-1])}")


def impose_no_slip(out: torch.Tensor, wall: torch.Tensor) -> torch.Tensor:
    """out (…, X, Y, Z, 3) with its y = ±1 rows (first and last along Y) set to ``wall`` (3,), exactly."""
    rows = wall.to(out.dtype).expand(*out.shape[:-3], 1, out.shape[-2], out.shape[-1])
    return torch.cat([rows, out[..., 1:-1, :, :], rows], dim=-3)
