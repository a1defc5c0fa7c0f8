"""Turbulent channel flow (filtered DNS trajectories) as an operator-learning problem.

Incompressible Navier-Stokes between walls y = ±1 at constant pressure gradient, wall units
(u_τ = 1, ν = 1/Re_τ, time in h/u_τ), periodic in x and z:

    ∂_t u + (u·∇)u = −∇p + ν Δu + e_x,   ∇·u = 0,   u = 0 at y = ±1.

Trajectories come from the ``channel_filtered_dns`` recipe (:mod:`sciflow.cfd.channel_dataset`):
``u, v, w (trajectory, t, z, y, x)`` in the file (CF order, read as ``(trajectory, t, x, y, z)``) filtered onto a coarse LES grid (y non-uniform, walls
included) with a ``split`` label per trajectory and the train-split statistics ``norm_mean,
norm_std (channel)``.  The learning task is the LES-step operator
ū(t − t_in + 1 … t) ↦ ū(t + Δt_snapshot), applied autoregressively.

Items of :meth:`dataset` use the ``time_first`` layout: input (t_in, X, Y, Z, 3), target
(t_out, X, Y, Z, 3), per-channel normalised ũ_c = (u_c − μ_c)/σ_c.
"""

from __future__ import annotations


import numpy as np
import torch

from sciflow.errors import SciflowError
from sciflow.problems.base import Field, Problem, register_problem

VARIABLES = ("u", "v", "w")


@register_problem("channel")
class TurbulentChannel(Problem):
    """Operator learning on filtered-DNS channel trajectories.

    Args:
        dataset: recipe in ``datasets/`` (``channel_retau180_cpu`` → ``datasets/channel_retau180_cpu.yaml``).
        params: overrides of the recipe's params (tiny data: ``{spinup: 0.1, n_snapshots: 4, gap: 0,
            nx: 16, ny: 24, nz: 16, coarse: [8, 13, 8]}``); the file name then carries a hash of them.
        t_in: input states of the operator (1: ū(t) ↦ ū(t + Δt)).
        horizon: states forecast autoregressively for validation (capped by the trajectory length).
    """

    evaluator = "channel"

    def __init__(self, dataset: str = "channel_retau180_cpu", params: dict | None = None, t_in: int = 1,
                 horizon: int = 5):
        from sciflow.problems.reference_data import recipe_dataset_file

        self.recipe_params, self.filename = recipe_dataset_file(dataset, "channel_filtered_dns", params)
        self.dataset_name = dataset
        n_frames = int(self.recipe_params.get("n_snapshots", 20))
        if t_in < 1 or t_in + 1 > n_frames:
            raise SciflowError(f"problem (channel): t_in={t_in} needs t_in + 1 <= the {n_frames} snapshots of '{dataset}'")
        self.t_in, self.horizon = int(t_in), max(1, min(int(horizon), n_frames - int(t_in)))
        super().__init__(inputs=("x", "y", "z", "t"),
                         fields=(Field("u", "u_τ", "streamwise velocity (filtered)"),
                                 Field("v", "u_τ", "wall-normal velocity (filtered)"),
                                 Field("w", "u_τ", "spanwise velocity (filtered)")),
                         params={"re_tau": float(self.recipe_params["re_tau"]), "dataset": dataset},
                         scales={"L": "h", "U": "u_τ", "T": "h/u_τ"})
        self._ds = None

    # ------------------------------------------------------------------ data
    def reference(self, progress: bool = True):
        """The filtered-DNS dataset (made with the recipe on first use)."""
        if self._ds is None:
            from sciflow.problems.reference_data import cached_recipe

            ds = cached_recipe("channel_filtered_dns", self.recipe_params, self.filename, progress=progress)
            missing = [v for v in (*VARIABLES, "split", "norm_mean", "norm_std") if v not in ds.variables]
            if missing:
                raise SciflowError(f"{self.filename}: channel dataset lacks variable(s) {missing}")
            # files are in CF order (trajectory, t, z, y, x); the models work on (trajectory, t, x, y, z)
            self._ds = ds.transpose("trajectory", "t", "x", "y", "z", ..., missing_dims="ignore")
        return self._ds

    def grid(self) -> dict:
        """Coarse-grid coordinates: x (X,), y (Y,) (non-uniform, walls included), z (Z,), periods lx, lz."""
        ds = self.reference(progress=True)
        lx, _, lz = (float(b) for b in ds.attrs["box"])
        return {"x": torch.tensor(np.array(ds["x"].values)), "y": torch.tensor(np.array(ds["y"].values)),
                "z": torch.tensor(np.array(ds["z"].values)), "lx": lx, "lz": lz}

    def stats(self) -> dict:
        """Train-split normalisation {var: (mean, std)} stored with the data."""
        ds = self.reference(progress=False)
        m, s = ds["norm_mean"].values, ds["norm_std"].values
        return {v: (float(m[i]), float(s[i])) for i, v in enumerate(VARIABLES)}

    def dataset(self, split: str, t_out: int = 1, stride: int | None = 1, t_start: int = 0):
        """:class:`~sciflow.data.loaders.TrajectoryWindows` of ``split``: normalised items input (t_in, X, Y, Z, 3),
        target (t_out, X, Y, Z, 3) (``time_first``); ``stride=None``: one window per trajectory from ``t_start``."""
        from sciflow.data.loaders import TrajectoryWindows

        return TrajectoryWindows(self.reference(progress=False), VARIABLES, split=split, t_in=self.t_in, t_out=t_out,
                                 stride=stride, t_start=t_start, layout="time_first", stats=self.stats())
