"""PDEBench HDF5 files (Takamoto et al., NeurIPS 2022 Datasets & Benchmarks), read with h5py.

Layouts read (arrays are (batch, t, x[, y[, z]]) as PDEBench writes them):

* compressible CFD: ``Vx, Vy[, Vz], density, pressure`` with ``x-coordinate``, ``y-coordinate``,
  ``t-coordinate`` → u, v[, w], rho, p;
* single-field: ``tensor`` (batch, t, x[, y]) → ``u`` (1D advection/Burgers/reaction-diffusion);
* 2D incompressible NS: ``velocity`` (batch, t, x, y, 2) → u, v, ``particles`` (..., 1) → c
  (the passive scalar), ``force`` (batch, x, y, 2) → force_x, force_y; time ``t`` (batch, t) or
  ``t-coordinate``; space ``x-coordinate``/``y-coordinate`` when present, else the cell centres
  of [0, 1]² (i + ½)/n;
* per-seed groups: one group per seed (``0000``, ``0001``, ...) with ``data`` (t, x[, y], c) and
  ``grid/x``, ``grid/y``, ``grid/t`` (2D diffusion-reaction, shallow water, 1D diffusion-sorption);
  channel names from ``fields`` (default u for one channel, else u0, u1, ...).

A ``t-coordinate`` one longer than the time axis (PDEBench stores the end time too) is cut to
the frames stored. Trajectories get a ``split`` in file order, the last ``fractions[2]`` as test
(PDEBench's own hold-out), see :func:`~sciflow.data.importers.common.assign_splits`.
Output: dims (sample, t, [z,] y, x) in the schema of :mod:`sciflow.data.schema`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from sciflow.data.importers.common import assign_splits, import_attrs
from sciflow.errors import SciflowError

SPACE = ("x", "y", "z")
CFD = {"Vx": "u", "Vy": "v", "Vz": "w", "density": "rho", "pressure": "p"}


def _h5(path: Path):
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise SciflowError(f"data import pdebench: {path} is not an HDF5 file: {exc}") from None


def _coord(f, name: str, n: int, where: Path) -> np.ndarray:
    if name in f:
        c = np.asarray(f[name][...], dtype=np.float64).reshape(-1)
        if c.size == n + 1:
            c = c[:n]
        if c.size != n:
            raise SciflowError(f"data import pdebench: {where}: '{name}' has {c.size} values for an axis of {n}")
        return c
    return (np.arange(n) + 0.5) / n


def _to_dataset(fields: dict[str, np.ndarray], coords: dict[str, np.ndarray], statics: dict[str, np.ndarray]):
    """fields {name: (batch, t, x, y[, z])} → Dataset with dims (sample, t, z, y, x)."""
    nsp = next(iter(fields.values())).ndim - 2
    names = ("sample", "t", *SPACE[:nsp])
    data = {k: (names, v) for k, v in fields.items()}
    for k, v in statics.items():
        data[k] = (("sample", *SPACE[:nsp]), v)
    ds = xr.Dataset(data, coords={k: (k, v) for k, v in coords.items()})
    order = ("sample", "t", *reversed(SPACE[:nsp]))
    return ds.transpose(*order, missing_dims="ignore")


def read(source: Path, fractions=(0.8, 0.1, 0.1), fields: list[str] | None = None):
    with _h5(source) as f:
        keys = set(f.keys())
        layout = None
        statics = {}
        if keys & set(CFD):
            layout = "cfd"
            arrays = {CFD[k]: np.asarray(f[k][...], dtype=np.float32) for k in CFD if k in f}
        elif "velocity" in keys:
            layout = "incompressible_ns"
            vel = np.asarray(f["velocity"][...], dtype=np.float32)
            if vel.ndim != 5 or vel.shape[-1] != 2:
                raise SciflowError(f"data import pdebench: {source}: 'velocity' has shape {vel.shape}; expected "
                                   f"(batch, t, x, y, 2)")
            arrays = {"u": vel[..., 0], "v": vel[..., 1]}
            if "particles" in f:
                arrays["c"] = np.asarray(f["particles"][...], dtype=np.float32)[..., 0]
            if "force" in f:
                force = np.asarray(f["force"][...], dtype=np.float32)
                statics = {"force_x": force[..., 0], "force_y": force[..., 1]}
        elif "tensor" in keys:
            layout = "tensor"
            arrays = {"u": np.asarray(f["tensor"][...], dtype=np.float32)}
        else:
            groups = sorted(k for k in keys if hasattr(f[k], "keys") and "data" in f[k])
            if not groups:
                raise SciflowError(f"data import pdebench: {source}: no PDEBench layout found (datasets Vx/Vy/density/"
                                   f"pressure, velocity, tensor, or seed groups with 'data'); it has {sorted(keys)}")
            layout = "seed_groups"
            return _seed_groups(f, groups, source, fractions, fields)
        shape = next(iter(arrays.values())).shape
        for k, v in arrays.items():
            if v.shape != shape:
                raise SciflowError(f"data import pdebench: {source}: '{k}' has shape {v.shape}, others {shape}")
        if len(shape) < 3:
            raise SciflowError(f"data import pdebench: {source}: arrays of shape {shape}; expected (batch, t, x, ...)")
        nsp = len(shape) - 2
        coords = {c: _coord(f, f"{c}-coordinate", shape[2 + i], source) for i, c in enumerate(SPACE[:nsp])}
        if "t-coordinate" in f:
            coords["t"] = _coord(f, "t-coordinate", shape[1], source)
        elif "t" in f:
            t = np.asarray(f["t"][...], dtype=np.float64)
            t = t[0] if t.ndim == 2 else t
            coords["t"] = t[: shape[1]]
        else:
            coords["t"] = np.arange(shape[1], dtype=np.float64)
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    ds = _to_dataset(arrays, coords, statics)
    ds["split"] = ("sample", assign_splits(shape[0], fractions))
    ds.attrs = import_attrs("pdebench", source, {"layout": layout, "fractions": list(fractions)},
                            f"{shape[0]} trajectories x {shape[1]} frames on {' x '.join(map(str, shape[2:]))}",
                            {f"pdebench_{k}": v for k, v in attrs.items() if isinstance(v, (int, float, str))})
    return ds


def _seed_groups(f, groups, source: Path, fractions, fields):
    first = f[groups[0]]
    data0 = first["data"]
    if data0.ndim < 3:
        raise SciflowError(f"data import pdebench: {source}: {groups[0]}/data has shape {data0.shape}; expected "
                           f"(t, x[, y], channels)")
    nch, nsp = data0.shape[-1], data0.ndim - 2
    names = list(fields) if fields else (["u"] if nch == 1 else [f"u{i}" for i in range(nch)])
    if len(names) != nch:
        raise SciflowError(f"data import pdebench: {source}: {nch} channels but fields {names}")
    stack = np.empty((len(groups), *data0.shape), dtype=np.float32)
    for i, g in enumerate(groups):
        d = f[g]["data"]
        if d.shape != data0.shape:
            raise SciflowError(f"data import pdebench: {source}: {g}/data has shape {d.shape}, {groups[0]} {data0.shape}")
        stack[i] = d[...]
    grid = first["grid"] if "grid" in first else {}
    coords = {}
    for i, c in enumerate(SPACE[:nsp]):
        n = data0.shape[1 + i]
        coords[c] = np.asarray(grid[c][...], dtype=np.float64)[:n] if c in grid else (np.arange(n) + 0.5) / n
    nt = data0.shape[0]
    coords["t"] = np.asarray(grid["t"][...], dtype=np.float64)[:nt] if "t" in grid else np.arange(nt, dtype=np.float64)
    arrays = {name: stack[..., k] for k, name in enumerate(names)}
    ds = _to_dataset(arrays, coords, {})
    ds = ds.assign_coords(seed=("sample", np.array(groups)))
    ds["split"] = ("sample", assign_splits(len(groups), fractions))
    ds.attrs = import_attrs("pdebench", source, {"layout": "seed_groups", "fractions": list(fractions),
                                                 "fields": names},
                            f"{len(groups)} seeds x {nt} frames on {' x '.join(map(str, data0.shape[1:-1]))}")
    return ds
