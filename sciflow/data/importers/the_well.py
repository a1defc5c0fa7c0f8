"""The Well HDF5 files (Ohana et al., NeurIPS 2024 Datasets & Benchmarks), read with h5py.

The Well's layout (``docs/data_format.md`` of the_well): root attrs ``dataset_name``,
``n_spatial_dims``, ``n_trajectories``, ``grid_type``, ``simulation_parameters`` (+ one attr per
parameter); group ``dimensions`` (attr ``spatial_dims``, datasets ``time`` and one per spatial
dim); group ``boundary_conditions`` (one group per condition: ``bc_type``, ``associated_dims``);
groups ``t0_fields`` (scalars, (n_traj, T, *space)), ``t1_fields`` (vectors, (..., D)) and
``t2_fields`` (tensors, (..., D, D)), each dataset with attrs ``sample_varying``,
``time_varying``; fields that vary neither by sample nor by time lack those axes.

Names: ``pressure`` → p, ``density`` → rho, t1 ``velocity`` → u, v[, w], other vectors f → f_x, ...,
tensors f → f_xx, f_xy, ... Fields constant in time keep no t dim; fields that do not vary by
sample are broadcast over trajectories. ``source``: one file, or a directory with ``train/``,
``valid/``, ``test/`` sub-directories of files (The Well's release layout; their labels become
``split``); a single file gets splits in file order from ``fractions``. Parameters, boundary
conditions and the dataset name go to the attrs (``well_*``).
Output: dims (sample, t, [z,] y, x) in the schema of :mod:`sciflow.data.schema`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from sciflow.data.importers.common import COMPONENTS, assign_splits, import_attrs, scalar_name
from sciflow.errors import SciflowError

SPLIT_DIRS = {"train": "train", "valid": "validation", "validation": "validation", "test": "test"}


def _s(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return [_s(e) for e in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_s(e) for e in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _flag(ds, name: str) -> bool:
    return bool(_s(ds.attrs.get(name, True)))


def _read_one(path: Path) -> tuple[xr.Dataset, dict]:
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise SciflowError(f"data import the_well: {path} is not an HDF5 file: {exc}") from None
    with f:
        for g in ("dimensions", "t0_fields"):
            if g not in f:
                raise SciflowError(f"data import the_well: {path} lacks the group '{g}' of The Well's layout")
        dims_g = f["dimensions"]
        space = [str(d) for d in _s(dims_g.attrs.get("spatial_dims", []))]
        if not space:
            raise SciflowError(f"data import the_well: {path}: dimensions has no attr 'spatial_dims'")
        if len(space) > 3:
            raise SciflowError(f"data import the_well: {path}: {len(space)} spatial dims; up to 3 are read")
        names = ("x", "y", "z")[: len(space)]  # the Well's axis names (x, y, z or r, theta, ...) map in order
        coords = {}
        for d, name in zip(space, names):
            if d not in dims_g:
                raise SciflowError(f"data import the_well: {path}: dimensions lacks dataset '{d}'")
            coords[name] = np.asarray(dims_g[d][...], dtype=np.float64).reshape(-1)
        if "time" not in dims_g:
            raise SciflowError(f"data import the_well: {path}: dimensions lacks dataset 'time'")
        time = np.asarray(dims_g["time"][...], dtype=np.float64)
        time = time[0] if time.ndim == 2 else time
        n_traj = int(_s(f.attrs.get("n_trajectories", 0))) or None
        shape_space = tuple(len(coords[n]) for n in names)
        fields = {}
        for order in (0, 1, 2):
            gname = f"t{order}_fields"
            if gname not in f:
                continue
            for key in f[gname].keys():
                d = f[gname][key]
                arr = np.asarray(d[...], dtype=np.float32)
                sv, tv = _flag(d, "sample_varying"), _flag(d, "time_varying")
                lead = (["sample"] if sv else []) + (["t"] if tv else [])
                nd = len(space)
                want = len(lead) + nd + order
                if arr.ndim != want:
                    raise SciflowError(f"data import the_well: {path}: {gname}/{key} has shape {arr.shape}; "
                                       f"expected {want} axes (sample_varying={sv}, time_varying={tv}, order {order})")
                if tuple(arr.shape[len(lead):len(lead) + nd]) != shape_space:
                    raise SciflowError(f"data import the_well: {path}: {gname}/{key} spatial shape "
                                       f"{arr.shape[len(lead):len(lead) + nd]} != dimensions {shape_space}")
                if sv and n_traj is None:
                    n_traj = arr.shape[0]
                base = "velocity" if key == "velocity" else key
                if order == 0:
                    comps = {scalar_name(key): arr}
                elif order == 1:
                    labels = ["u", "v", "w"][:nd] if base == "velocity" else [f"{scalar_name(key)}_{c}" for c in COMPONENTS[:nd]]
                    comps = {lab: arr[..., i] for i, lab in enumerate(labels)}
                else:
                    comps = {f"{scalar_name(key)}_{a}{b}": arr[..., i, j]
                             for i, a in enumerate(COMPONENTS[:nd]) for j, b in enumerate(COMPONENTS[:nd])}
                for k, v in comps.items():
                    fields[k] = (tuple(lead) + names, v)
        if not fields:
            raise SciflowError(f"data import the_well: {path}: no fields in t0_fields/t1_fields/t2_fields")
        meta = {"well_dataset_name": _s(f.attrs.get("dataset_name", "")),
                "well_grid_type": _s(f.attrs.get("grid_type", "")),
                "well_spatial_dims": space}
        params = {}
        for p in _s(f.attrs.get("simulation_parameters", [])):
            if p in f.attrs:
                params[str(p)] = _s(f.attrs[p])
        meta["well_simulation_parameters"] = json.dumps(params)
        bcs = {}
        if "boundary_conditions" in f:
            for name in f["boundary_conditions"].keys():
                g = f["boundary_conditions"][name]
                bcs[name] = {"bc_type": _s(g.attrs.get("bc_type", "")),
                             "associated_dims": _s(g.attrs.get("associated_dims", []))}
        meta["well_boundary_conditions"] = json.dumps(bcs)
    ntime = len(time)
    data = {}
    for k, (dims, v) in fields.items():
        if "sample" not in dims:
            v = np.broadcast_to(v, (n_traj, *v.shape)).copy()
            dims = ("sample", *dims)
        if "t" in dims and v.shape[1] != ntime:
            raise SciflowError(f"data import the_well: {path}: field {k} has {v.shape[1]} frames, time has {ntime}")
        data[k] = (dims, v)
    ds = xr.Dataset(data, coords={**{n: (n, c) for n, c in coords.items()}, "t": ("t", time)})
    ds = ds.transpose("sample", "t", *reversed(names), missing_dims="ignore")
    return ds, {**meta, **{f"param_{k}": v for k, v in params.items() if isinstance(v, (int, float, str))}}


def read(source: Path, fractions=(0.8, 0.1, 0.1)):
    if source.is_dir():
        parts, labels, meta = [], [], None
        for sub, label in SPLIT_DIRS.items():
            d = source / sub
            if not d.is_dir():
                continue
            for f in sorted(d.glob("*.h*5")):
                ds, m = _read_one(f)
                parts.append(ds)
                labels += [label] * ds.sizes["sample"]
                meta = meta or m
        if not parts:
            raise SciflowError(f"data import the_well: {source} has no train/, valid/ or test/ HDF5 files")
        ds = xr.concat(parts, dim="sample")
        split = np.array(labels)
        how = "from the train/valid/test directories"
    else:
        ds, meta = _read_one(source)
        split = assign_splits(ds.sizes["sample"], fractions)
        how = f"in file order, fractions {list(fractions)}"
    ds["split"] = ("sample", split)
    shape = [ds.sizes[d] for d in ("z", "y", "x") if d in ds.sizes]
    ds.attrs = import_attrs("the_well", source, {"fractions": list(fractions)},
                            f"{ds.sizes['sample']} trajectories x {ds.sizes['t']} frames on {' x '.join(map(str, shape))}",
                            {**meta, "split_assignment": how})
    return ds
