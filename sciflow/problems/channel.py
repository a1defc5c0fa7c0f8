"""Turbulent channel flow (filtered DNS trajectories) as an operator-learning problem.

Incompressible Navier-Stokes between walls y = ±1 at constant pressure gradient, wall units
(u_τ = 1, ν = 1/Re_τ, time in h/u_τ), periodic in x and z:

    ∂_t u + (u·∇)u = −∇p + ν Δu + e_x,   ∇·u = 0,   u = 0 at y = ±1.

Trajectories come from the ``channel_filtered_dns`` recipe (:mod:`sciflow.cfd.channel_dataset`) or from a
user's file (``dataset: {path: my.nc}``, :func:`channel_trajectory_file`):
``u, v, w (trajectory, t, z, y, x)`` in the file (CF order, read as ``(trajectory, t, x, y, z)``) filtered onto a coarse LES grid (y non-uniform, walls
included) with a ``split`` label per trajectory and the train-split statistics ``norm_mean,
norm_std (channel)``.  The learning task is the LES-step operator
ū(t − t_in + 1 … t) ↦ ū(t + Δt_snapshot), applied autoregressively.

Items of :meth:`dataset` use the ``time_first`` layout: input (t_in, X, Y, Z, 3), target
(t_out, X, Y, Z, 3), per-channel normalised ũ_c = (u_c − μ_c)/σ_c.

Linear constraints of one filtered state (:meth:`TurbulentChannel.constraints`, the rollout constraint layer):

* ``no_slip``: u = v = w = 0 on the wall rows y = ±1 (the y box filter shrinks to zero width there);
* ``plane_mean_v``: ⟨v⟩_xz(y) = 0 at every interior y, the x-z average of ∇·u = 0 (d⟨v⟩/dy = 0) with v = 0 at
  the walls; the filter is linear and keeps it (stored data: |⟨v⟩| ~ 1e-8 of max |v|, float32);
* ``bulk_flow``: U_b = ½ Σ_j w_j ⟨u⟩_xz(y_j) (trapezoid weights w_j on the coarse y, wall values zero) equal to the mean
  U_b of the train split. The DNS of the recipe holds the pressure gradient fixed (``drive="pressure"``,
  −dP/dx = 1), not the flow rate, so U_b of a state fluctuates about its mean: this constraint is the
  constant-flow-rate idealisation, not a law of these data.
* ``momentum_balance``: the law these data do obey at constant pressure gradient, the x-momentum balance of the
  whole channel between a state u and the next one u⁺ (Δt = ``dt_snapshot``), trapezoidal in time::

      U_b(u⁺) − U_b(u) = Δt [Π − ½ (τ̄(u⁺) + τ̄(u))],     Π = −dP/dx = 1,   τ̄ = ½ (τ_w,bottom + τ_w,top)

  (the plane-averaged x-momentum equation integrated over y ∈ [−1, 1], halved). τ̄(u) = c ν ∂⟨u⟩/∂y at the
  walls, from the second-order one-sided difference through the wall (⟨u⟩ = 0) and the first two interior
  rows, and c fitted by least squares to the balance over the train split's consecutive snapshots (it
  corrects the one-sided difference's bias in the wall slope: c ≈ 0.98 on the recipes' grids). It links two states, so its G has 2N columns, [G(u⁺) | G(u)]
  (:class:`~sciflow.problems.base.StateConstraints`). It acts on the same entries as ``bulk_flow`` (the two
  exclude each other).

Zero discrete divergence is not declared: it is linear in the state on the coarse grid (spectral ∂x, ∂z,
finite differences in y), but the filtered data do not satisfy it (the wall-normal box filter of varying
width does not commute with ∂y, and the coarse grid does not resolve the gradients), so holding it would
pull states away from the data. Rollouts are judged by profile statistics
(:meth:`TurbulentChannel.rollout_statistics`).
"""

from __future__ import annotations


import numpy as np
import torch

from sciflow.cfd.channel_profiles import PLANE_STATISTICS, plane_statistics
from sciflow.errors import SciflowError
from sciflow.problems.base import Field, Problem, register_problem

VARIABLES = ("u", "v", "w")


@register_problem("channel")
class TurbulentChannel(Problem):
    """Operator learning on filtered-DNS channel trajectories.

    Args:
        dataset: recipe in ``datasets/`` (``channel_retau180_cpu`` → ``datasets/channel_retau180_cpu.yaml``), or a
            user's trajectory file ``{path: my.nc, variables: {u: U_x, ...}}`` (see :func:`channel_trajectory_file`).
        params: overrides of the recipe's params (tiny data: ``{spinup: 0.1, n_snapshots: 4, gap: 0,
            nx: 16, ny: 24, nz: 16, coarse: [8, 13, 8]}``); the file name then carries a hash of them.
        t_in: input states of the operator (1: ū(t) ↦ ū(t + Δt)).
        horizon: states forecast autoregressively for validation (capped by the trajectory length).
    """

    evaluator = "channel"

    def __init__(self, dataset: str | dict = "channel_retau180_cpu", params: dict | None = None, t_in: int = 1,
                 horizon: int = 5):
        self._ds = self._file = None
        if isinstance(dataset, dict):
            if params:
                raise SciflowError("problem.params: recipe overrides apply to a recipe dataset, not to dataset.path")
            self._file = channel_trajectory_file(dataset)
            self.recipe_params, self.filename = None, dataset["path"]
            self.dataset_name = dataset["path"]
            n_frames, re_tau = self._file.sizes["t"], float(self._file.attrs["re_tau_nominal"])
        else:
            from sciflow.problems.reference_data import recipe_dataset_file

            self.recipe_params, self.filename = recipe_dataset_file(dataset, "channel_filtered_dns", params)
            self.dataset_name = dataset
            n_frames, re_tau = int(self.recipe_params.get("n_snapshots", 20)), float(self.recipe_params["re_tau"])
        if t_in < 1 or t_in + 1 > n_frames:
            raise SciflowError(f"problem (channel): t_in={t_in} needs t_in + 1 <= the {n_frames} snapshots of "
                               f"'{self.dataset_name}'")
        self.t_in, self.horizon = int(t_in), max(1, min(int(horizon), n_frames - int(t_in)))
        super().__init__(inputs=("x", "y", "z", "t"),
                         fields=(Field("u", "u_τ", "streamwise velocity (filtered)"),
                                 Field("v", "u_τ", "wall-normal velocity (filtered)"),
                                 Field("w", "u_τ", "spanwise velocity (filtered)")),
                         params={"re_tau": re_tau, "dataset": self.dataset_name},
                         scales={"L": "h", "U": "u_τ", "T": "h/u_τ"})

    # ------------------------------------------------------------------ data
    def reference(self, progress: bool = True):
        """The filtered-DNS dataset (made with the recipe on first use)."""
        if self._ds is None:
            from sciflow.problems.reference_data import cached_recipe

            ds = (self._file if self._file is not None else
                  cached_recipe("channel_filtered_dns", self.recipe_params, self.filename, progress=progress))
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

    # ------------------------------------------------------------------ constraints (module docstring)
    conserved_quantities = ("no_slip", "plane_mean_v", "bulk_flow", "momentum_balance")

    def bulk_weights(self) -> torch.Tensor:
        """Weights w_j (Y,) with U_b = ½ Σ_j w_j ⟨u⟩_xz(y_j): the trapezoid rule on the coarse y with the wall
        values taken as zero (no slip), so the wall rows carry no weight; float64."""
        y = self.grid()["y"].to(torch.float64)
        dy = torch.diff(y)
        w = torch.zeros_like(y)
        w[:-1] += 0.5 * dy
        w[1:] += 0.5 * dy
        w[0] = w[-1] = 0.0
        return w / 2.0

    def bulk_velocity(self, split: str = "train") -> float:
        """Mean bulk velocity U_b over every snapshot of ``split`` (the ``bulk_flow`` target)."""
        ds = self.reference(progress=False)
        sel = np.asarray(ds["split"].values).astype(str) == split
        u = np.asarray(ds["u"].values[sel], dtype=np.float64)  # (S, T, X, Y, Z)
        return float((u.mean(axis=(0, 1, 2, 4)) * self.bulk_weights().numpy()).sum())

    def wall_shear_weights(self) -> torch.Tensor:
        """Weights g (Y,) with τ̄ = ν Σ_j g_j ⟨u⟩_xz(y_j), the mean of the two wall shear stresses from the
        second-order one-sided difference through the wall value (taken as zero, no slip) and the first two
        interior rows of each wall; float64. (⟨u⟩ = a η + b η², η the distance from the wall: ∂⟨u⟩/∂η = a.)"""
        from sciflow.cfd.channel_profiles import wall_slope_weights

        g = torch.from_numpy(wall_slope_weights(self.grid()["y"].numpy()))
        return g / float(self.params["re_tau"])

    def wall_shear_scale(self, split: str = "train") -> float:
        """c of ``momentum_balance``: the least-squares fit of ΔU_b = Δt (Π − c ½(τ̄⁺ + τ̄)) over every pair of
        consecutive snapshots of ``split`` (τ̄ from :meth:`wall_shear_weights`), c = Σ τ̃ (Δt − ΔU_b) / (Δt Σ τ̃²)
        with τ̃ = ½(τ̄⁺ + τ̄). It corrects the one-sided difference's error in the wall slope on the coarse grid."""
        ds = self.reference(progress=False)
        sel = np.asarray(ds["split"].values).astype(str) == split
        u = np.asarray(ds["u"].values[sel], dtype=np.float64).mean(axis=(2, 4))  # ⟨u⟩_xz (S, T, Y)
        ub, tau = u @ self.bulk_weights().numpy(), u @ self.wall_shear_weights().numpy()
        dt, d_ub, tau_mid = float(ds.attrs["dt_snapshot"]), np.diff(ub, axis=1), 0.5 * (tau[:, 1:] + tau[:, :-1])
        return float(((dt - d_ub) * tau_mid).sum() / (dt * (tau_mid ** 2).sum()))

    def constraints(self, grid, names=None):
        """(G (M, N) sparse COO, b (M,)) float64 of the named quantities (None: all) on states (X, Y, Z, 3)
        flattened in C order (index ((x·Y + y)·Z + z)·3 + c), ``grid`` = (X, Y, Z). Rows: ``no_slip`` one per
        wall entry (2·X·Z·3), ``plane_mean_v`` one per interior y (Y − 2), ``bulk_flow`` one; the three act on
        disjoint entries (walls; interior v; interior u). ``momentum_balance`` (one row) links a state to the
        one before: its G (1, 2N) is [G(u⁺) | G(u)], so it is asked for alone."""
        names = list(self.conserved_quantities if names is None else names)
        for n in names:
            if n not in self.conserved_quantities:
                raise SciflowError(f"constraints: problem 'channel' holds {list(self.conserved_quantities)}, not '{n}'")
        if "momentum_balance" in names and len(names) > 1:
            raise SciflowError("constraints: 'momentum_balance' links a state to the one before (G has 2N columns); "
                               "ask for it alone")
        g = self.grid()
        shape = tuple(int(s) for s in grid)
        if shape != (len(g["x"]), len(g["y"]), len(g["z"])):
            raise SciflowError(f"constraints: grid {shape} is not the channel grid "
                               f"{(len(g['x']), len(g['y']), len(g['z']))}")
        nx, ny, nz = shape
        index = torch.arange(nx * ny * nz * 3).reshape(nx, ny, nz, 3)
        rows, cols, vals, rhs = [], [], [], []

        def add(row_cols: torch.Tensor, weights: torch.Tensor, targets: torch.Tensor):
            """Rows r0 + k (k < K): Σ_j weights[k, j] u[row_cols[k, j]] = targets[k]."""
            k, j = row_cols.shape
            rows.append((len(rhs) + torch.arange(k))[:, None].expand(k, j).reshape(-1))
            cols.append(row_cols.reshape(-1))
            vals.append(weights.to(torch.float64).expand(k, j).reshape(-1))
            rhs.extend(targets.tolist())

        if "no_slip" in names:
            walls = index[:, [0, ny - 1], :, :].reshape(-1, 1)
            add(walls, torch.ones(1, 1), torch.zeros(len(walls), dtype=torch.float64))
        if "plane_mean_v" in names:
            v = index[:, 1:ny - 1, :, 1].permute(1, 0, 2).reshape(ny - 2, nx * nz)
            add(v, torch.full((1, 1), 1.0 / (nx * nz), dtype=torch.float64), torch.zeros(ny - 2, dtype=torch.float64))
        if "bulk_flow" in names:
            w = (self.bulk_weights()[None, :, None] / (nx * nz)).expand(nx, ny, nz)
            add(index[:, :, :, 0].reshape(1, -1), w.reshape(1, -1),
                torch.tensor([self.bulk_velocity()], dtype=torch.float64))
        width = nx * ny * nz * 3
        if "momentum_balance" in names:  # U_b(u⁺) + ½Δt τ̄(u⁺) − U_b(u) + ½Δt τ̄(u) = Δt Π   (module docstring)
            dt = float(self.reference(progress=False).attrs["dt_snapshot"])
            bulk, shear = self.bulk_weights(), 0.5 * dt * self.wall_shear_scale() * self.wall_shear_weights()
            for sign, offset in ((1.0, 0), (-1.0, width)):
                w = ((sign * bulk + shear)[None, :, None] / (nx * nz)).expand(nx, ny, nz)
                rows.append(torch.zeros(nx * ny * nz, dtype=torch.long))
                cols.append(offset + index[:, :, :, 0].reshape(-1))
                vals.append(w.reshape(-1))
            rhs.append(dt * 1.0)  # Π = −dP/dx = 1 in wall units
            width *= 2
        G = torch.sparse_coo_tensor(torch.stack([torch.cat(rows), torch.cat(cols)]), torch.cat(vals),
                                    (len(rhs), width), check_invariants=True).coalesce()
        return G, torch.tensor(rhs, dtype=torch.float64)

    # ------------------------------------------------------------------ rollout statistics
    state_statistics_names = PLANE_STATISTICS

    def state_statistics(self, frames: torch.Tensor) -> torch.Tensor:
        """Plane profiles (B, F, 5, Y − 2) of each physical state (B, F, X, Y, Z, 3): the mean streamwise
        velocity, the three rms and the Reynolds shear stress over x and z, interior rows
        (:func:`sciflow.cfd.channel_profiles.plane_statistics`)."""
        return plane_statistics(frames)

    statistics_names = ("profile_max_rel_err", "U_max_rel_err", "rms_max_rel_err")

    def rollout_statistics(self, pred: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
        """Profile errors of rollout states pred (B, F, X, Y, Z, 3) against data states truth (B', F', X, Y, Z, 3),
        physical units (:mod:`sciflow.cfd.channel_profiles`): ``U_max_rel_err`` = max_y |Û − U| / max_y U,
        ``rms_max_rel_err`` = max_{i,y} |û'_i − u'_i| / max_y u'_i, ``profile_max_rel_err`` the larger of the two.
        Non-finite states give inf."""
        from sciflow.cfd.channel_profiles import ProfileAccumulator, profile_errors

        p = pred.detach().double().cpu().numpy()
        if not np.all(np.isfinite(p)):
            return {k: float("inf") for k in self.statistics_names}
        acc_p, acc_t = ProfileAccumulator(), ProfileAccumulator()
        acc_p.add(p.reshape(-1, *p.shape[2:]))
        t = truth.detach().double().cpu().numpy()
        acc_t.add(t.reshape(-1, *t.shape[2:]))
        e = profile_errors(acc_p, acc_t)
        u, r = e["U_plus_max_rel_err"], e["rms_max_rel_err"]
        return {"profile_max_rel_err": max(u, r), "U_max_rel_err": u, "rms_max_rel_err": r}

    def dataset(self, split: str, t_out: int = 1, stride: int | None = 1, t_start: int = 0):
        """:class:`~sciflow.data.loaders.TrajectoryWindows` of ``split``: normalised items input (t_in, X, Y, Z, 3),
        target (t_out, X, Y, Z, 3) (``time_first``); ``stride=None``: one window per trajectory from ``t_start``."""
        from sciflow.data.loaders import TrajectoryWindows

        return TrajectoryWindows(self.reference(progress=False), VARIABLES, split=split, t_in=self.t_in, t_out=t_out,
                                 stride=stride, t_start=t_start, layout="time_first", stats=self.stats())


def channel_trajectory_file(spec: dict):
    """A user's trajectory file for ``channel``, checked and completed as the recipe's files are.

    Needs ``u, v, w (sample|trajectory, t, z, y, x)`` in wall units (u_τ, h, h/u_τ) with ``split``, a y
    coordinate running from wall to wall (y = −1 … 1, walls included, increasing), x and z uniform and
    periodic, uniform snapshot times, and Re_τ as a global attribute ``re_tau`` (plain or in the
    ``parameters`` JSON). Completed where the file lacks them: the sample dim is named ``trajectory``;
    ``box = [lx, 2, lz]`` with lx = n_x Δx, lz = n_z Δz; ``dt_snapshot`` = Δt; ``re_tau_nominal`` (the Re_τ the
    problem records) = re_tau;
    ``norm_mean, norm_std (channel)`` over the train split (float64). Any departure raises one
    :class:`SciflowError` naming the file and what is missing."""
    from sciflow.data.io import read_dataset
    from sciflow.data.loaders import normalisation_stats
    from sciflow.data.reference_file import parse_file_spec, stored_parameters
    from sciflow.data.schema import check_dataset, rename_variables

    spec = parse_file_spec(spec, "problem.dataset")
    where = f"problem.dataset.path {spec['path']}"
    ds = rename_variables(read_dataset(spec["path"]), spec["variables"], where)
    layout = check_dataset(ds, VARIABLES, where, trajectories=True, spatial=3)
    if layout.kind != "grid" or set(layout.spatial_dims) != {"x", "y", "z"}:
        raise SciflowError(f"{where}: channel needs u, v, w on an (x, y, z) grid, got dims {ds['u'].dims}")
    if layout.sample_dim != "trajectory":
        ds = ds.rename({layout.sample_dim: "trajectory"})
    y = np.asarray(ds["y"].values, dtype=np.float64)
    if not (np.all(np.diff(y) > 0) and abs(y[0] + 1) < 1e-6 and abs(y[-1] - 1) < 1e-6):
        raise SciflowError(f"{where}: coordinate y must increase from wall to wall, y = -1 … 1 (walls included, "
                           f"lengths in h); got {y[0]:g} … {y[-1]:g}")

    def spacing(name: str) -> float:
        a = np.asarray(ds[name].values, dtype=np.float64)
        d = np.diff(a)
        if len(a) < 2 or not np.allclose(d, d[0], rtol=1e-6, atol=0.0) or not d[0] > 0:
            raise SciflowError(f"{where}: coordinate {name} must be uniform and increasing (channel: periodic x, z "
                               "and snapshots equally spaced in t)")
        return float(d[0])

    dx, dz, dt = spacing("x"), spacing("z"), spacing("t")
    params = stored_parameters(ds)
    re_tau = ds.attrs.get("re_tau", params.get("re_tau"))
    if not isinstance(re_tau, (int, float, np.number)) or isinstance(re_tau, bool):
        raise SciflowError(f"{where}: the file does not state Re_τ; add the global attribute re_tau (the data are "
                           "in wall units: u_τ = 1, h = 1, ν = 1/re_tau)")
    ds.attrs.setdefault("re_tau", float(re_tau))
    ds.attrs.setdefault("re_tau_nominal", float(re_tau))
    for k, v in (("box", [ds.sizes["x"] * dx, 2.0, ds.sizes["z"] * dz]), ("dt_snapshot", dt)):
        if k in ds.attrs and not np.allclose(np.asarray(ds.attrs[k], dtype=np.float64), v, rtol=1e-6):
            raise SciflowError(f"{where}: attribute {k} = {ds.attrs[k]} contradicts the coordinates ({v})")
        ds.attrs[k] = v
    if "norm_mean" not in ds.variables or "norm_std" not in ds.variables:
        stats = normalisation_stats(ds, VARIABLES, "trajectory", "train", where)
        ds["norm_mean"] = ("channel", np.array([stats[v][0] for v in VARIABLES]))
        ds["norm_std"] = ("channel", np.array([stats[v][1] for v in VARIABLES]))
    return ds
