"""2D periodic Navier-Stokes (vorticity form) as an operator-learning problem.

The PDE (Li et al., FNO, ICLR 2021, eq. 14) on the unit torus [0, 1)²:

    ∂_t ω + u·∇ω = ν Δω + f,   u = (∂_y ψ, −∂_x ψ),   −Δψ = ω,   f = 0.1 (sin 2π(x+y) + cos 2π(x+y)).

Trajectories come from the ``ns2d`` recipe (:mod:`sciflow.cfd.spectral2d`): ``vorticity
(sample, t, y, x)`` in the file (CF order), read as ``(sample, t, x, y)``, with a ``split`` label per sample.  The learning task is the solution
operator ``ω(t−t_in+1 … t) ↦ ω(t+1)``, applied autoregressively to forecast ``horizon`` frames.

Conservation law: ω is the curl of a periodic velocity, so its mean over the torus vanishes
for all time (∫ω dx = ∮u·dl = 0 and f has zero mean); :meth:`constraints` states it as
``G ω = b`` with ``G = (1/N, …, 1/N)`` (1, N) and ``b = 0``, the quantity the rollout constraint
layer can hold (``zero_mean_vorticity``).  Rollouts are judged statistically by the time-averaged
energy spectrum and the enstrophy (:meth:`PeriodicNS2D.rollout_statistics`).
"""

from __future__ import annotations


import torch

from sciflow.errors import SciflowError
from sciflow.problems.base import Field, Problem, register_problem


@register_problem("ns2d")
class PeriodicNS2D(Problem):
    """Operator learning on 2D periodic NS trajectories.

    Args:
        dataset: name of a recipe in ``datasets/`` (``ns2d_nu1e-5_cpu`` → ``datasets/ns2d_nu1e-5_cpu.yaml``), or a
            user's trajectory file ``{path: my.nc, variables: {vorticity: w}}`` (see :func:`trajectory_file`).
        params: overrides of the recipe's params (e.g. ``{n_train: 20, resolution: 32}``); the data
            file then gets a name with a hash of the overrides, so each variant is made once.
        t_in: input frames of the operator (10 in the FNO/DyMixOp setting).
        horizon: frames forecast autoregressively for validation and test (10: t = 10 … 19).
        subsample: keep every ``subsample``-th grid point in x and y (64² data → 32² with 2), the
            FNO practice of training on a coarser copy of the same trajectories.
    """

    evaluator = "rollout"

    def __init__(self, dataset: str | dict = "ns2d_nu1e-5_cpu", params: dict | None = None, t_in: int = 10,
                 horizon: int = 10, subsample: int = 1):
        self.t_in, self.horizon, self.subsample = int(t_in), int(horizon), int(subsample)
        self._ds = self._file = None
        if isinstance(dataset, dict):
            if params:
                raise SciflowError("problem.params: recipe overrides apply to a recipe dataset, not to dataset.path")
            self._file = trajectory_file(dataset)
            self.recipe_params, self.filename = None, dataset["path"]
            self.dataset_name = dataset["path"]
            resolution, n_frames = self._file.sizes["x"], self._file.sizes["t"]
            from sciflow.data.reference_file import stored_parameters

            nu = stored_parameters(self._file).get("nu")
            nu = float(nu) if isinstance(nu, (int, float)) else float("nan")
        else:
            from sciflow.problems.reference_data import recipe_dataset_file

            self.recipe_params, self.filename = recipe_dataset_file(dataset, "ns2d", params)
            self.dataset_name = dataset
            resolution = int(self.recipe_params["resolution"])
            n_frames = int(round(self.recipe_params["T"] / self.recipe_params["snapshot_dt"])) + 1
            nu = float(self.recipe_params["nu"])
        if self.subsample < 1 or resolution % self.subsample:
            raise SciflowError(f"problem.subsample={subsample} must divide the resolution {resolution}")
        if self.t_in < 1 or self.horizon < 1 or self.t_in + self.horizon > n_frames:
            raise SciflowError(f"problem (ns2d): t_in={t_in} + horizon={horizon} must be <= the {n_frames} "
                               f"frames of dataset '{self.dataset_name}'")
        super().__init__(inputs=("x", "y", "t"), fields=(Field("vorticity", "1/T", "ω = ∂_x v − ∂_y u"),),
                         params={"nu": nu, "dataset": self.dataset_name, "resolution": resolution // self.subsample},
                         scales={"L": 1.0})

    # ------------------------------------------------------------------ data
    def reference(self, progress: bool = True):
        """The trajectory dataset (made with the ``ns2d`` recipe on first use), subsampled in space."""
        if self._ds is None:
            from sciflow.problems.reference_data import cached_recipe

            ds = self._file if self._file is not None else cached_recipe("ns2d", self.recipe_params, self.filename,
                                                                         progress=progress)
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

    # ------------------------------------------------------------------ conservation
    conserved_quantities = ("zero_mean_vorticity",)

    def constraints(self, grid, names=None):
        """Zero-mean vorticity: ``G`` (1, N) = 1/N, ``b`` (1,) = 0 on a grid of shape ``(n, n)`` (or ``n``);
        ``names``: None or ``["zero_mean_vorticity"]`` (the one quantity)."""
        for name in names or ():
            if name not in self.conserved_quantities:
                raise SciflowError(f"constraints: problem 'ns2d' conserves {list(self.conserved_quantities)}, "
                                   f"not '{name}'")
        shape = (grid, grid) if isinstance(grid, int) else tuple(grid)
        n = 1
        for s in shape:
            n *= int(s)
        return torch.full((1, n), 1.0 / n, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)

    # ------------------------------------------------------------------ rollout statistics
    statistics_names = ("spectrum_error", "enstrophy_rel_err")

    def rollout_statistics(self, pred: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
        """Statistics of forecasts pred (B, F, n, n, 1) against data truth (B', F', n, n, 1), vorticity:

        * ``spectrum_error``: mean over shells 1 ≤ |k| < n/3 of |log10 Ē_pred(k) / Ē_true(k)|, Ē the
          kinetic-energy spectrum (:mod:`sciflow.cfd.energy_spectrum2d`) averaged over samples and frames;
        * ``enstrophy_rel_err``: |⟨ω²⟩_pred − ⟨ω²⟩_true| / ⟨ω²⟩_true, averages over samples, frames and space.
        Non-finite forecasts give inf."""
        import numpy as np

        from sciflow.cfd.energy_spectrum2d import energy_spectrum

        p = pred.detach().double().cpu().numpy()[..., 0]
        t = truth.detach().double().cpu().numpy()[..., 0]
        if not np.all(np.isfinite(p)):
            return {"spectrum_error": float("inf"), "enstrophy_rel_err": float("inf")}
        ks, ep = energy_spectrum(p)
        _, et = energy_spectrum(t)
        keep = ks < p.shape[-1] / 3
        ep, et = ep.reshape(-1, len(ks)).mean(0)[keep], et.reshape(-1, len(ks)).mean(0)[keep]
        spec = float(np.mean(np.abs(np.log10(np.maximum(ep, 1e-300) / np.maximum(et, 1e-300)))))
        zp, zt = float((p ** 2).mean()), float((t ** 2).mean())
        return {"spectrum_error": spec, "enstrophy_rel_err": abs(zp - zt) / zt}


def trajectory_file(spec: dict):
    """A user's trajectory file for ``ns2d``: ``vorticity (sample, t, y, x)`` on a square uniform grid with
    ``split``; a file with velocities ``u, v`` but no vorticity gets ω = ∂v/∂x − ∂u/∂y by second-order
    central differences (one-sided at the edges, ``numpy.gradient`` with ``edge_order=2``) on its coordinates."""
    import numpy as np

    from sciflow.data.io import read_dataset
    from sciflow.data.reference_file import parse_file_spec
    from sciflow.data.schema import check_dataset, rename_variables

    spec = parse_file_spec(spec, "problem.dataset")
    where = f"problem.dataset.path {spec['path']}"
    ds = rename_variables(read_dataset(spec["path"]), spec["variables"], where)
    if "vorticity" not in ds.variables and {"u", "v"} <= set(ds.variables):
        check_dataset(ds, ("u", "v"), where, trajectories=True, spatial=2)
        u = ds["u"].transpose("sample", "t", "y", "x").values.astype(np.float64)
        v = ds["v"].transpose("sample", "t", "y", "x").values.astype(np.float64)
        x, y = ds["x"].values.astype(np.float64), ds["y"].values.astype(np.float64)
        w = np.gradient(v, x, axis=3, edge_order=2) - np.gradient(u, y, axis=2, edge_order=2)
        ds["vorticity"] = (("sample", "t", "y", "x"), w.astype(np.float32),
                           {"long_name": "vorticity dv/dx - du/dy (central differences of u, v)",
                            "units": str(ds["u"].attrs.get("units", "1"))})
    layout = check_dataset(ds, ("vorticity",), where, trajectories=True, spatial=2)
    if layout.kind != "grid" or layout.spatial_dims != ("y", "x") and set(layout.spatial_dims) != {"x", "y"}:
        raise SciflowError(f"{where}: ns2d needs vorticity on a 2D (y, x) grid, got dims {ds['vorticity'].dims}")
    if ds.sizes["x"] != ds.sizes["y"]:
        raise SciflowError(f"{where}: ns2d needs a square grid, got {ds.sizes['y']} x {ds.sizes['x']}")
    return ds
