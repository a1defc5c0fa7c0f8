"""The dataset recipe ``ns2d``: trajectories of 2D turbulence from :class:`~sciflow.cfd.spectral2d.PseudoSpectralNS2D`
(FNO/DyMixOp data: Gaussian-random-field initial vorticity, FNO or Kolmogorov forcing, solved on a fine grid and
subsampled, with train/validation/test labels)."""

from __future__ import annotations

import math

import torch

from sciflow.cfd.spectral2d import PseudoSpectralNS2D, fno_forcing, grid, kolmogorov_forcing, resolve_device
from sciflow.data.recipes import register_recipe
from sciflow.errors import SciflowError

NS2D_DEFAULTS = {
    "nu": 1e-3,                 # viscosity ν
    "T": 50.0,                  # final time; snapshots at 0, snapshot_dt, ..., T
    "snapshot_dt": 1.0,
    "resolution": 64,           # output grid (n × n)
    "solve_resolution": 256,    # solver grid; a multiple of resolution (output = every k-th point)
    "n_train": 1000, "n_validation": 100, "n_test": 200,
    "forcing": "fno",           # "fno": A(sin 2π(x+y) + cos 2π(x+y)); "kolmogorov": A sin(2π m y)
    "forcing_amplitude": 0.1, "forcing_wavenumber": 4,
    "drag": 0.0,
    "grf_alpha": 2.5, "grf_tau": 7.0, "grf_scale": "fno",
    "dt": None, "cfl": 0.5,     # dt None → adaptive (CFL target); a number → fixed dt with CFL check
    "batch_size": 100, "seed": 0, "dtype": "float64", "device": "auto",
    "threads": None,            # CPU threads for torch during the run (None: leave torch's setting)
    "extends": None,            # [n_train, n_validation, n_test] of a smaller set (same other params) whose
                                # samples are this set's first ones, with their split labels; the rest are train
}


def _ns2d_params(params: dict) -> dict:
    unknown = sorted(set(params) - set(NS2D_DEFAULTS))
    if unknown:
        raise SciflowError(f"ns2d recipe: unknown param(s) {unknown}; allowed: {sorted(NS2D_DEFAULTS)}")
    p = {**NS2D_DEFAULTS, **params}
    if p["solve_resolution"] % p["resolution"]:
        raise SciflowError(f"ns2d recipe: solve_resolution={p['solve_resolution']} must be a multiple of "
                           f"resolution={p['resolution']}")
    if p["forcing"] not in ("fno", "kolmogorov"):
        raise SciflowError(f"ns2d recipe: params.forcing must be 'fno' or 'kolmogorov', got {p['forcing']!r}")
    if p["dtype"] not in ("float32", "float64"):
        raise SciflowError(f"ns2d recipe: params.dtype must be 'float32' or 'float64', got {p['dtype']!r}")
    counts = [int(p[k]) for k in ("n_train", "n_validation", "n_test")]
    if min(counts) < 0 or sum(counts) == 0:
        raise SciflowError(f"ns2d recipe: n_train/n_validation/n_test must be >= 0 with a positive sum, got {counts}")
    if p["extends"] is not None:
        base = p["extends"]
        if (not isinstance(base, (list, tuple)) or len(base) != 3
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in base)):
            raise SciflowError(f"ns2d recipe: params.extends must be [n_train, n_validation, n_test] of the smaller "
                               f"set, got {base!r}")
        if base[0] > counts[0] or list(base[1:]) != counts[1:]:
            raise SciflowError(f"ns2d recipe: params.extends={list(base)} must keep n_validation and n_test "
                               f"({counts[1:]}) and have n_train <= {counts[0]}")
        if sum(base) % max(1, int(p["batch_size"])):
            raise SciflowError(f"ns2d recipe: the {sum(base)} samples of params.extends must be whole batches of "
                               f"batch_size={p['batch_size']} (the adaptive step is one per batch, so other "
                               f"batches would give other trajectories)")
    n_snap = p["T"] / p["snapshot_dt"]
    if p["T"] <= 0 or abs(n_snap - round(n_snap)) > 1e-9:
        raise SciflowError(f"ns2d recipe: T={p['T']} must be a positive multiple of snapshot_dt={p['snapshot_dt']}")
    return p


def _split_labels(n_train: int, n_validation: int, n_test: int, seed: int):
    """The split label of each sample: the counts in a seeded random order."""
    import numpy as np

    labels = np.array(["train"] * n_train + ["validation"] * n_validation + ["test"] * n_test)
    return labels[np.random.default_rng(seed).permutation(len(labels))]


def _initial_vorticity(p: dict, first: int, count: int, device) -> torch.Tensor:
    """GRF samples first..first+count-1 of the dataset (per-sample seeds), shape (count, n, n)."""
    from sciflow.cfd.random_fields import GaussianRandomField

    grf = GaussianRandomField(p["solve_resolution"], p["grf_alpha"], p["grf_tau"], p["grf_scale"])
    return grf.sample_indexed(int(p["seed"]), first, count).to(device)


@register_recipe("ns2d")
def ns2d_recipe(params: dict, progress: bool = True):
    """FNO/DyMixOp 2D Navier-Stokes trajectories: GRF ω₀, forcing f, snapshots every ``snapshot_dt``.

    Returns an ``xarray.Dataset`` with ``vorticity (sample, t, x, y)`` (float32, output grid),
    ``energy``/``enstrophy (sample, t)`` (float64, solver grid), ``split (sample)`` and attrs
    (provenance, nu, forcing formula, dt statistics, resolutions, train-split normalisation
    stats on ``vorticity``).  See ``NS2D_DEFAULTS`` for the params."""
    p = _ns2d_params(params)
    old_threads = torch.get_num_threads()
    if p["threads"]:
        torch.set_num_threads(int(p["threads"]))
    try:
        return _ns2d_run(p, progress)
    finally:
        torch.set_num_threads(old_threads)


def _ns2d_run(p: dict, progress: bool):
    import time

    import numpy as np
    import xarray as xr

    from sciflow.data.io import provenance
    from sciflow.data.loaders import attach_normalisation

    t0 = time.perf_counter()
    dev = resolve_device(p["device"])
    dtype = torch.float64 if p["dtype"] == "float64" else torch.float32
    ns, no = int(p["solve_resolution"]), int(p["resolution"])
    if p["forcing"] == "fno":
        forcing = fno_forcing(p["forcing_amplitude"])
    else:
        forcing = kolmogorov_forcing(p["forcing_amplitude"], int(p["forcing_wavenumber"]))
    solver = PseudoSpectralNS2D(ns, p["nu"], forcing=forcing, drag=p["drag"], device=dev, dtype=dtype)
    n_snap = int(round(p["T"] / p["snapshot_dt"]))
    times = [k * p["snapshot_dt"] for k in range(n_snap + 1)]
    n_total = int(p["n_train"]) + int(p["n_validation"]) + int(p["n_test"])
    stride = ns // no
    vort = np.empty((n_total, len(times), no, no), dtype=np.float32)
    energy = np.empty((n_total, len(times)))
    enstrophy = np.empty((n_total, len(times)))
    step_stats = []
    bs = max(1, int(p["batch_size"]))
    n_batches = math.ceil(n_total / bs)
    for b, first in enumerate(range(0, n_total, bs)):
        count = min(bs, n_total - first)
        w0 = _initial_vorticity(p, first, count, dev)
        traj, st = solver.integrate(w0, times, dt=p["dt"], cfl=p["cfl"], progress=progress,
                                    desc=f"ns2d nu={p['nu']:g} batch {b + 1}/{n_batches}")
        step_stats.append(st)
        flat = traj.reshape(-1, ns, ns)
        energy[first:first + count] = solver.energy(flat).reshape(count, -1).cpu().numpy()
        enstrophy[first:first + count] = solver.enstrophy(flat).reshape(count, -1).cpu().numpy()
        vort[first:first + count] = traj[..., ::stride, ::stride].to(torch.float32).cpu().numpy()
    wall = time.perf_counter() - t0

    labels = _split_labels(*(int(p[k]) for k in ("n_train", "n_validation", "n_test")), seed=int(p["seed"]))
    if p["extends"] is not None:  # the smaller set's labels on its samples (the first ones); the rest train
        labels = np.concatenate([_split_labels(*map(int, p["extends"]), seed=int(p["seed"])),
                                 np.full(n_total - sum(map(int, p["extends"])), "train")])
    coord = np.arange(no) / no
    ds = xr.Dataset(
        {"vorticity": (("sample", "t", "y", "x"), vort.transpose(0, 1, 3, 2),
                       {"long_name": "vorticity omega = dv/dx - du/dy", "units": "1", "grid": "x_i = i/n, y_j = j/n"}),
         "energy": (("sample", "t"), energy, {"long_name": "kinetic energy 0.5*int |u|^2 (solver grid)"}),
         "enstrophy": (("sample", "t"), enstrophy, {"long_name": "enstrophy 0.5*int omega^2 (solver grid)"}),
         "split": (("sample",), labels.astype(str))},
        coords={"sample": np.arange(n_total), "t": np.asarray(times), "x": coord, "y": coord},
    )
    case = f"ns2d_nu{p['nu']:g}"
    ds.attrs.update(provenance(case, "sciflow.cfd.spectral2d.PseudoSpectralNS2D (IF-RK4, 2/3 dealiasing)",
                               p, f"solve {ns}x{ns}, output {no}x{no} (every {stride}th point)", wall))
    ds.attrs.update(
        nu=float(p["nu"]), drag=float(p["drag"]), forcing=solver.forcing_formula,
        equation="d_t w + u.grad w = nu lap w - drag w + f, u = (d_y psi, -d_x psi), -lap psi = w, [0,1)^2 periodic",
        initial_condition=f"GRF N(0, c(-lap + {p['grf_tau']}^2)^-{p['grf_alpha']}), scale={p['grf_scale']}",
        time_stepper="integrating-factor RK4, exact linear viscous+forcing part",
        dt_mode="fixed" if p["dt"] is not None else f"adaptive CFL {p['cfl']}",
        dt_min=min(s["dt_min"] for s in step_stats), dt_max=max(s["dt_max"] for s in step_stats),
        dt_mean=float(np.mean([s["dt_mean"] for s in step_stats])),
        cfl_max_seen=max(s["cfl_max_seen"] for s in step_stats),
        n_steps_total=int(sum(s["n_steps"] for s in step_stats)),
        solve_resolution=ns, output_resolution=no, record_times=list(map(float, times)), seed=int(p["seed"]),
        device=str(dev), solve_dtype=p["dtype"],
    )
    return attach_normalisation(ds, ["vorticity"])
