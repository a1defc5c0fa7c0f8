"""2D periodic Navier-Stokes (vorticity form) as an operator-learning problem.

The PDE (Li et al., FNO, ICLR 2021, eq. 14) on the unit torus [0, 1)²:

    ∂_t ω + u·∇ω = ν Δω + f,   u = (∂_y ψ, −∂_x ψ),   −Δψ = ω,   f = 0.1 (sin 2π(x+y) + cos 2π(x+y)).

Trajectories come from the ``ns2d`` recipe (:mod:`sciflow.cfd.spectral2d`): ``vorticity
(sample, t, y, x)`` in the file (CF order), read as ``(sample, t, x, y)``, with a ``split`` label per sample.  The learning task is the solution
operator ``ω(t−t_in+1 … t) ↦ ω(t+1)``, applied autoregressively to forecast ``horizon`` frames.

Conservation law: ω is the curl of a periodic velocity, so its mean over the torus vanishes
for all time (∫ω dx = ∮u·dl = 0 and f has zero mean); :meth:`constraints` states it as
``G ω = b`` with ``G = (1/N, …, 1/N)`` (1, N) and ``b = 0``.
"""

from __future__ import annotations


import torch

from sciflow.errors import SciflowError
from sciflow.problems.base import Field, Problem, register_problem


@register_problem("ns2d")
class PeriodicNS2D(Problem):
    """Operator learning on 2D periodic NS trajectories.

    Args:
        dataset: name of a recipe in ``datasets/`` (``ns2d_nu1e-5_cpu`` → ``datasets/ns2d_nu1e-5_cpu.yaml``).
        params: overrides of the recipe's params (e.g. ``{n_train: 20, resolution: 32}``); the data
            file then gets a name with a hash of the overrides, so each variant is made once.
        t_in: input frames of the operator (10 in the FNO/DyMixOp setting).
        horizon: frames forecast autoregressively for validation and test (10: t = 10 … 19).
        subsample: keep every ``subsample``-th grid point in x and y (64² data → 32² with 2), the
            FNO practice of training on a coarser copy of the same trajectories.
    """

    evaluator = "rollout"

    def __init__(self, dataset: str = "ns2d_nu1e-5_cpu", params: dict | None = None, t_in: int = 10,
                 horizon: int = 10, subsample: int = 1):
        from sciflow.problems.reference_data import recipe_dataset_file

        self.recipe_params, self.filename = recipe_dataset_file(dataset, "ns2d", params)
        self.dataset_name = dataset
        self.t_in, self.horizon, self.subsample = int(t_in), int(horizon), int(subsample)
        if self.subsample < 1 or int(self.recipe_params["resolution"]) % self.subsample:
            raise SciflowError(f"problem.subsample={subsample} must divide the resolution "
                               f"{self.recipe_params['resolution']}")
        n_frames = int(round(self.recipe_params["T"] / self.recipe_params["snapshot_dt"])) + 1
        if self.t_in < 1 or self.horizon < 1 or self.t_in + self.horizon > n_frames:
            raise SciflowError(f"problem (ns2d): t_in={t_in} + horizon={horizon} must be <= the {n_frames} "
                               f"frames of dataset '{dataset}'")
        super().__init__(inputs=("x", "y", "t"), fields=(Field("vorticity", "1/T", "ω = ∂_x v − ∂_y u"),),
                         params={"nu": float(self.recipe_params["nu"]), "dataset": dataset,
                                 "resolution": int(self.recipe_params["resolution"]) // self.subsample},
                         scales={"L": 1.0})
        self._ds = None

    # ------------------------------------------------------------------ data
    def reference(self, progress: bool = True):
        """The trajectory dataset (made with the ``ns2d`` recipe on first use), subsampled in space."""
        if self._ds is None:
            from sciflow.problems.reference_data import cached_recipe

            ds = cached_recipe("ns2d", self.recipe_params, self.filename, progress=progress)
            # files are in CF order (sample, t, y, x); the operator works on (sample, t, x, y)
            ds = ds.transpose("sample", "t", "x", "y", ..., missing_dims="ignore")
            k = self.subsample
            self._ds = ds.isel(x=slice(None, None, k), y=slice(None, None, k)) if k > 1 else ds
        return self._ds

    def dataset(self, split: str, t_out: int = 1, stride: int | None = 1, t_start: int = 0):
        """:class:`~sciflow.data.loaders.TrajectoryWindows` of ``split`` with normalised items
        ``input (t_in, x, y)``, ``target (t_out, x, y)`` (``channel_first``); ``stride=None``: one window
        per trajectory starting at ``t_start``."""
        from sciflow.data.loaders import TrajectoryWindows

        return TrajectoryWindows(self.reference(progress=False), ("vorticity",), split=split, t_in=self.t_in,
                                 t_out=t_out, stride=stride, t_start=t_start, layout="channel_first")

    def constraints(self, grid):
        """Zero-mean vorticity: ``G`` (1, N) = 1/N, ``b`` (1,) = 0 on a grid of shape ``(n, n)`` (or ``n``)."""
        shape = (grid, grid) if isinstance(grid, int) else tuple(grid)
        n = 1
        for s in shape:
            n *= int(s)
        return torch.full((1, n), 1.0 / n, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
