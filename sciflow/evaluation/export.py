"""Predicted fields next to the reference, for ParaView and xarray: ``prediction.nc`` and ``prediction.vtu``/``.xdmf``.

``write_prediction(out, pred, ref, coords, dims)`` writes, under the evaluation directory,

* ``prediction.nc`` (schema of :mod:`sciflow.data.schema`, CF): for every field f the model's
  prediction ``f``, the reference ``f_reference`` and ``f_error = f − f_reference``, nondimensional
  (CF ``units = "1"``; attr ``scale`` names the problem's scale, e.g. ``U`` or ``rho U^2``);
* ``prediction.vtu`` for steady fields (point data on the reference grid, as lines, quads or
  hexahedra for 1, 2 or 3 space dims, or on scattered reference points, as vertices) or
  ``prediction.xdmf`` for a time series (one trajectory, every frame; XML data inline, so the file
  is self-contained), both read by ParaView and by meshio.

Shapes: dims in the schema's order (``sample``, ``t``, ``z``, ``y``, ``x``) or (``t``, ``point``),
e.g. steady (ny, nx) with ``("y", "x")``, scattered (N,) with ``("point",)``, rollouts
(sample, t, y, x) with ``("sample", "t", "y", "x")``, a 1D transient (nt, nx) with ``("t", "x")``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from sciflow.data.io import write_dataset


def prediction_dataset(pred: dict, ref: dict, coords: dict, dims: tuple[str, ...], attrs: dict | None = None,
                       units: dict | None = None) -> xr.Dataset:
    """The prediction, reference and error of every field as one Dataset (see the module docstring)."""
    data = {}
    units = units or {}
    for name, p in pred.items():
        p = np.asarray(p, dtype=np.float64)
        r = np.asarray(ref[name], dtype=np.float64)
        scale = units.get(name, "1")
        # the fields are nondimensional: CF units "1", the scale they are measured in (U, rho U^2, u_τ, ...) beside it
        extra = {} if scale == "1" else {"scale": scale}
        tail = "" if scale == "1" else f", in units of {scale}"
        data[name] = (dims, p, {"long_name": f"{name} predicted by the model{tail}", "units": "1", **extra})
        data[f"{name}_reference"] = (dims, r, {"long_name": f"{name} of the reference{tail}", "units": "1", **extra})
        data[f"{name}_error"] = (dims, p - r, {"long_name": f"{name} prediction minus reference{tail}", "units": "1",
                                               **extra})
    crd = {}
    for k, v in coords.items():
        crd[k] = v if isinstance(v, tuple) else ((k,), np.asarray(v))
    return xr.Dataset(data, coords=crd, attrs=attrs or {})


SPACE = ("z", "y", "x")  # slowest to fastest in the point order


def _grid_mesh(axes: dict):
    """Points (n, 3) and cells of the tensor grid of ``axes`` {dim: coordinates} over a subset of
    (z, y, x): x fastest, then y, then z; lines, quads or hexahedra for 1, 2 or 3 dims."""
    dims = [d for d in SPACE if d in axes]
    mesh = np.meshgrid(*(axes[d] for d in dims), indexing="ij")
    coord = {d: m.ravel() for d, m in zip(dims, mesh)}
    pts = np.stack([coord.get(c, np.zeros(mesh[0].size)) for c in ("x", "y", "z")], 1)
    idx = np.arange(mesh[0].size).reshape(mesh[0].shape)
    if len(dims) == 1:
        return pts, [("line", np.stack([idx[:-1], idx[1:]], 1))]
    if len(dims) == 2:
        return pts, [("quad", np.stack([idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(),
                                        idx[1:, :-1].ravel()], 1))]
    c = [idx[k:k + idx.shape[0] - 1, j:j + idx.shape[1] - 1, i:i + idx.shape[2] - 1].ravel()
         for k, j, i in ((0, 0, 0), (0, 0, 1), (0, 1, 1), (0, 1, 0), (1, 0, 0), (1, 0, 1), (1, 1, 1), (1, 1, 0))]
    return pts, [("hexahedron", np.stack(c, 1))]


def write_prediction(out: Path, ds: xr.Dataset) -> dict[str, Path]:
    """Write ``prediction.nc`` and the ParaView file of ``ds`` (from :func:`prediction_dataset`) under ``out``."""
    out = Path(out)
    written = {"netcdf": write_dataset(ds, out / "prediction.nc")}
    try:
        import meshio
    except ImportError:  # the netCDF file is still written
        return written
    names = [v for v in ds.data_vars]
    first = ds[names[0]]
    if "point" in first.dims:
        x, y = ds["x"].values, ds["y"].values
        pts = np.stack([x, y, ds["z"].values if "z" in ds else np.zeros_like(x)], 1)
        cells = [("vertex", np.arange(len(x))[:, None])]
    else:
        pts, cells = _grid_mesh({d: ds[d].values for d in SPACE if d in first.dims})
    if "t" in first.dims:
        sel = ds.isel(sample=0) if "sample" in ds.dims else ds
        path = out / "prediction.xdmf"
        with meshio.xdmf.TimeSeriesWriter(str(path), data_format="XML") as w:
            w.write_points_cells(pts, cells)
            for k, t in enumerate(sel["t"].values):
                frame = sel.isel(t=k)
                w.write_data(float(t), point_data={n: _flat(frame[n]) for n in names})
        written["xdmf"] = path
    else:
        path = out / "prediction.vtu"
        meshio.Mesh(pts, cells, point_data={n: _flat(ds[n]) for n in names}).write(str(path))
        written["vtu"] = path
    return written


def _flat(da: xr.DataArray) -> np.ndarray:
    """Point values in the mesh's point order (grid: x fastest, then y, then z; scattered: as stored)."""
    if "point" in da.dims:
        return np.asarray(da.values, dtype=np.float64)
    return np.asarray(da.transpose(*[d for d in SPACE if d in da.dims]).values, dtype=np.float64).ravel()
