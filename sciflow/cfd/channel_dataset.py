"""Recipe ``channel_filtered_dns``: filtered-DNS trajectories of turbulent channel flow.

Steps: build the solver at constant pressure gradient (wall units: ``u_τ = 1``,
``ν = 1/re_tau``, time in h/u_τ), start from a Reichardt profile with random fluctuations
(or from a restart file), spin up for ``spinup`` h/u_τ, then record ``n_trajectories``
trajectories of ``n_snapshots`` consecutive snapshots ``snapshot_every`` steps apart, each
preceded by ``gap`` h/u_τ of free run for decorrelation. Snapshots are filtered onto the
coarse grid ``coarse = [nx, ny, nz]`` (``sciflow.cfd.filters``). Turbulence statistics
are accumulated from the end of the spin-up to the end of the run.

Augmentation: ``augment`` lists exact symmetries of the channel (``sciflow.cfd.channel_symmetry``:
``reflect_y``, ``reflect_z``, ``shift_x:N``, ``shift_z:N`` with N coarse cells, compositions joined by
``+``); each filtered trajectory is followed by one transformed copy per entry, written as its own
trajectory. Copies take the split of their source trajectory (splits are drawn over the sources), so
no test flow leaks into training in mirrored or shifted form. ``reflect_y`` is refused unless the
DNS and the coarse y points are mirror-symmetric about the centreline.

Cost: ``spinup/dt + n_trajectories·(gap/dt + (n_snapshots-1)·snapshot_every)`` solver steps (the
spin-up is skipped when ``restart`` names an existing file); augmentation costs no solver steps.

Dataset: ``u, v, w (trajectory, t, x, y, z)`` float32 on the coarse grid (``y``
non-uniform, walls included); ``split (trajectory)`` ∈ {train, validation, test};
``t_start (trajectory)``; ``source_trajectory (trajectory)`` (index of the
trajectory a copy was made from; its own index for the source) and ``transform (trajectory)``
(``identity`` or the symmetry that made the copy); ``norm_mean, norm_std (channel)`` over the training trajectories;
``filter_width_y (y)``; DNS statistics on the native wall-normal grid ``U_plus, u_rms_plus,
v_rms_plus, w_rms_plus, uv_plus (y_plus)``; attrs ``re_tau, box, grid, averaging_time,
dt_snapshot, filter, filter_width_x, filter_width_z, n_sources, augment`` plus provenance.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import torch
import xarray as xr

from sciflow.cfd.channel_dns import ChannelConfig, ChannelSolver
from sciflow.cfd.channel_initial import turbulent_initial_condition
from sciflow.cfd.channel_symmetry import augment, check_mirror_symmetric, check_transforms, parse_transform
from sciflow.cfd.filters import ChannelCoarsener
from sciflow.data.io import provenance
from sciflow.data.recipes import register_recipe
from sciflow.data.torch_files import safe_torch_load
from sciflow.errors import SciflowError

DEFAULTS = {
    "re_tau": 178.12,
    "lx": math.pi,
    "lz": math.pi / 2,
    "nx": 48,
    "ny": 80,
    "nz": 48,
    "stretch": 1.9,
    "dt": 2e-3,
    "dtype": "float32",
    "device": "auto",
    "sgs": "none",
    "cs": 0.1,
    "cw": 0.325,
    "spinup": 20.0,
    "n_trajectories": 4,
    "n_snapshots": 20,
    "snapshot_every": 50,
    "gap": 2.0,
    "coarse": [16, 33, 16],
    "filter": "spectral",
    "split_fractions": {"validation": 0.25, "test": 0.25},
    "stats_every": 10,
    "amplitude": 1.0,
    "seed": 0,
    "restart": None,
    "threads": 0,
    "augment": [],
}


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def _splits(n: int, fractions: dict) -> list[str]:
    n_val = int(round(fractions.get("validation", 0.0) * n))
    n_test = int(round(fractions.get("test", 0.0) * n))
    if n >= 3:
        n_val, n_test = max(n_val, 1), max(n_test, 1)
    n_train = n - n_val - n_test
    if n_train < 1:
        raise SciflowError(f"channel recipe: split_fractions {fractions} leave no training trajectory of {n}")
    return ["train"] * n_train + ["validation"] * n_val + ["test"] * n_test


def build_solver(p: dict) -> ChannelSolver:
    cfg = ChannelConfig(nx=int(p["nx"]), ny=int(p["ny"]), nz=int(p["nz"]), lx=float(p["lx"]), lz=float(p["lz"]),
                        stretch=float(p["stretch"]), nu=1.0 / float(p["re_tau"]), drive="pressure", forcing=1.0,
                        dt=float(p["dt"]), sgs=p["sgs"], cs=float(p["cs"]), cw=float(p["cw"]), dtype=p["dtype"],
                        device=_device(p["device"]), cfl_max=1.6)
    return ChannelSolver(cfg)


@register_recipe("channel_filtered_dns")
def channel_filtered_dns(params: dict, progress: bool = True) -> xr.Dataset:
    """Run the recipe (see module docstring); returns the dataset."""
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise SciflowError(f"channel recipe: unknown param(s) {sorted(unknown)}; allowed: {sorted(DEFAULTS)}")
    p = {**DEFAULTS, **params}
    if len(p["coarse"]) != 3:
        raise SciflowError(f"channel recipe: 'coarse' must be [nx, ny, nz], got {p['coarse']}")
    nxc, nyc, nzc = (int(c) for c in p["coarse"])
    transforms = check_transforms(p["augment"], nxc, nzc)
    if int(p["threads"]) > 0:
        torch.set_num_threads(int(p["threads"]))
    t0 = time.perf_counter()
    restart = p["restart"]
    s = build_solver(p)
    coarse = ChannelCoarsener(s, nxc, nyc, nzc, kind=p["filter"])
    if any(op == "reflect_y" for t in transforms for op, _ in parse_transform(t)):
        check_mirror_symmetric(s.grid.yf, "DNS wall-normal grid")
        check_mirror_symmetric(coarse.y, "coarse (filtered) y grid")
    if restart and os.path.exists(restart):
        sd = safe_torch_load(restart, "channel restart file")
        for k in ("nx", "ny", "nz", "lx", "lz", "stretch", "nu"):
            if abs(float(sd["config"][k]) - float(getattr(s.cfg, k))) > 1e-12 * max(1.0, abs(float(getattr(s.cfg, k)))):
                raise SciflowError(f"channel recipe: restart {restart} has {k}={sd['config'][k]}, params ask {getattr(s.cfg, k)}")
        sd["stats"] = None
        s.load_state(sd)
    else:
        turbulent_initial_condition(s, float(p["amplitude"]), seed=int(p["seed"]))
        n_spin = int(round(float(p["spinup"]) / s.cfg.dt))
        s.run(n_spin, progress=progress, desc="channel spin-up")
        if restart:
            s.save(restart)
    t_spun = s.t
    n_traj, n_snap, every = int(p["n_trajectories"]), int(p["n_snapshots"]), int(p["snapshot_every"])
    n_gap = int(round(float(p["gap"]) / s.cfg.dt))
    data = np.zeros((3, n_traj, n_snap, nxc, nyc, nzc), dtype=np.float32)
    t_start = np.zeros(n_traj)
    se = int(p["stats_every"])
    for i in range(n_traj):
        if n_gap:
            s.run(n_gap, progress=progress, desc=f"channel gap {i + 1}/{n_traj}", stats_every=se)
        t_start[i] = s.t
        for j in range(n_snap):
            if j:
                s.run(every, progress=False, stats_every=se)
            for c, f in enumerate(coarse()):
                data[c, i, j] = f.permute(1, 0, 2).cpu().numpy()
    if s.stats is None or s.stats.n == 0:
        s.stats = None
        from sciflow.cfd.channel_stats import ChannelStatsAccumulator

        s.stats = ChannelStatsAccumulator(s)
        s.stats.add(s)
    from sciflow.cfd.channel_stats import channel_statistics

    st = channel_statistics(s.stats.result())
    # splits are drawn over the source trajectories; every copy keeps its source's split
    n_copies = 1 + len(transforms)
    splits = [sp for sp in _splits(n_traj, p["split_fractions"]) for _ in range(n_copies)]
    data, source, transform = augment(data, transforms)
    t_start = np.repeat(t_start, n_copies)
    train = np.array([sp == "train" for sp in splits])
    mean = data[:, train].reshape(3, -1).mean(1)
    std = data[:, train].reshape(3, -1).std(1)
    dims = ("trajectory", "t", "z", "y", "x")  # CF order; data are (component, trajectory, t, x, y, z)
    data = data.transpose(0, 1, 2, 5, 4, 3)
    dt_snap = every * s.cfg.dt
    ds = xr.Dataset(
        {
            "u": (dims, data[0]),
            "v": (dims, data[1]),
            "w": (dims, data[2]),
            "split": ("trajectory", np.array(splits, dtype=object).astype(str)),
            "t_start": ("trajectory", t_start),
            "source_trajectory": ("trajectory", source.astype(np.int64)),
            "transform": ("trajectory", transform.astype(str)),
            "norm_mean": ("channel", mean.astype(np.float64)),
            "norm_std": ("channel", std.astype(np.float64)),
            "filter_width_y": ("y", coarse.width_y),
            **{k: ("y_plus", st[k].values) for k in ("U_plus", "u_rms_plus", "v_rms_plus", "w_rms_plus", "uv_plus")},
        },
        coords={
            "trajectory": np.arange(n_traj * n_copies),
            "t": np.arange(n_snap) * dt_snap,
            "x": coarse.x,
            "y": coarse.y,
            "z": coarse.z,
            "channel": ["u", "v", "w"],
            "y_plus": st["y_plus"].values,
            "y_dns": ("y_plus", st["y"].values),
        },
    )
    cfg = s.cfg
    ds.attrs.update(provenance(
        case="channel_retau180",
        solver="sciflow.cfd.channel_dns (Fourier x,z / staggered 2nd-order FD y, RK3/CN, projection"
               + (f", LES {cfg.sgs}" if cfg.sgs != "none" else ", DNS") + ")",
        parameters=p,
        resolution=f"DNS {cfg.nx}x{cfg.ny}x{cfg.nz} (x,y,z; 2/3 dealiased), filtered to {nxc}x{nyc}x{nzc}",
        wall_time_s=time.perf_counter() - t0,
    ))
    ds.attrs.update(
        re_tau=float(st.attrs["re_tau"]),
        re_tau_nominal=float(p["re_tau"]),
        ub_plus=float(st.attrs["ub_plus"]),
        cf=float(st.attrs["cf"]),
        box=[float(cfg.lx), 2.0, float(cfg.lz)],
        grid=[cfg.nx, cfg.ny, cfg.nz],
        coarse_grid=[nxc, nyc, nzc],
        averaging_time=float(s.t - t_spun),
        stats_samples=int(st.attrs["n_samples"]),
        dt=float(cfg.dt),
        dt_snapshot=float(dt_snap),
        filter=p["filter"],
        filter_width_x=float(coarse.width_x),
        filter_width_z=float(coarse.width_z),
        n_sources=n_traj,
        augment=",".join(transforms) if transforms else "none",
        nondimensionalisation="wall units: lengths h, velocity u_tau, time h/u_tau",
    )
    return ds
