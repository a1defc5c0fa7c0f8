"""VTK-family files through meshio: VTU, legacy VTK, XDMF (also time series), ``.pvd`` collections.

``read(source, location="auto")``: ``source`` is one mesh file, an XDMF time series, a ``.pvd``
collection (``<DataSet timestep=... file=...>``) or a directory of mesh files (one time step each,
in natural name order, t = 0, 1, ...). Values are taken at the mesh points (``location="point"``)
or at the cell centres (``"cell"``: centroid = mean of the cell's vertices, over the cells of the
highest dimension); ``"auto"`` takes point data when the file has any. Vector fields are split
into components (``U``/``velocity`` → u, v, w). The result has dims ``([t,] point)`` with
coordinates x, y[, z] on ``point`` (z dropped when constant: a 2D case written in 3D).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from sciflow.data.importers.common import add_field, import_attrs, points_dataset
from sciflow.errors import SciflowError

MESH_SUFFIXES = (".vtu", ".vtk", ".vtp", ".xdmf", ".xmf")


def _meshio():
    try:
        import meshio
    except ImportError:  # pragma: no cover - meshio ships with the [mesh] / [io] extras
        raise SciflowError("data import vtk needs the 'meshio' package: pip install 'sciflow[io]'") from None
    return meshio


def _natural(path: Path):
    return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", path.name)]


def _steps(source: Path):
    """[(time or None, points, cells, point_data, cell_data)] of every step in ``source``."""
    meshio = _meshio()
    if source.is_dir():
        files = sorted((f for f in source.iterdir() if f.suffix.lower() in MESH_SUFFIXES), key=_natural)
        if not files:
            raise SciflowError(f"data import vtk: directory {source} holds no {MESH_SUFFIXES} file")
        return [(float(k), *_one(meshio, f)) for k, f in enumerate(files)]
    if source.suffix.lower() == ".pvd":
        try:
            root = ET.parse(source).getroot()
        except ET.ParseError as exc:
            raise SciflowError(f"data import vtk: {source} is not a valid .pvd file: {exc}") from None
        sets = root.findall(".//DataSet")
        if not sets:
            raise SciflowError(f"data import vtk: {source} lists no <DataSet> entries")
        out = []
        for k, d in enumerate(sets):
            f = (source.parent / d.get("file", "")).resolve()
            if source.parent.resolve() not in f.parents:
                raise SciflowError(f"data import vtk: {source} names a file outside its directory: {d.get('file')}")
            out.append((float(d.get("timestep", k)), *_one(meshio, f)))
        return out
    if source.suffix.lower() in (".xdmf", ".xmf"):
        try:
            with meshio.xdmf.TimeSeriesReader(str(source)) as reader:
                points, cells = reader.read_points_cells()
                if reader.num_steps > 0:
                    steps = []
                    for k in range(reader.num_steps):
                        t, pdata, cdata = reader.read_data(k)
                        steps.append((float(t), points, cells, pdata, cdata))
                    return steps
        except SciflowError:
            raise
        except Exception:  # not a time series: a plain XDMF mesh
            pass
    return [(None, *_one(meshio, source))]


def _one(meshio, path: Path):
    if not path.exists():
        raise SciflowError(f"data import vtk: file not found: {path}")
    try:
        m = meshio.read(str(path))
    except (Exception, SystemExit) as exc:  # meshio exits on files it cannot parse
        raise SciflowError(f"data import vtk: meshio cannot read {path}: {exc}") from None
    return m.points, m.cells, m.point_data, m.cell_data


def _cell_centres(points, cells) -> tuple[np.ndarray, list[int]]:
    """Centroids (vertex means) of the cells of the highest dimension, and those blocks' indices."""
    dims = [getattr(b, "dim", 2) for b in cells]
    top = max(dims)
    keep = [i for i, d in enumerate(dims) if d == top]
    centres = np.concatenate([points[cells[i].data].mean(axis=1) for i in keep])
    return centres, keep


def read(source: Path, location: str = "auto"):
    if location not in ("auto", "point", "cell"):
        raise SciflowError(f"data import vtk: location must be auto, point or cell, got {location!r}")
    steps = _steps(source)
    _, points0, cells0, pdata0, cdata0 = steps[0]
    if location == "auto":
        location = "point" if pdata0 else "cell"
    if location == "point":
        coords = np.asarray(points0, dtype=np.float64)
        keep = None
    else:
        if not cells0:
            raise SciflowError(f"data import vtk: {source} has no cells for location='cell'")
        coords, keep = _cell_centres(np.asarray(points0, dtype=np.float64), cells0)
    per_step = []
    for t, points, cells, pdata, cdata in steps:
        if points.shape != points0.shape or not np.allclose(points, points0):
            raise SciflowError(f"data import vtk: {source}: the mesh changes between time steps (t={t}); "
                               f"one mesh for all steps is read")
        fields = {}
        if location == "point":
            for name, arr in pdata.items():
                arr = np.asarray(arr)
                add_field(fields, name, arr, None if arr.ndim == 1 else 1)
        else:
            for name, blocks in cdata.items():
                arr = np.concatenate([np.asarray(blocks[i]) for i in keep])
                add_field(fields, name, arr, None if arr.ndim == 1 else 1)
        fields = {k: v.astype(np.float64) for k, v in fields.items() if v.dtype.kind in "fiu"}
        if not fields:
            raise SciflowError(f"data import vtk: {source} has no numeric {location} data (step t={t})")
        per_step.append((t, fields))
    names = list(per_step[0][1])
    for t, f in per_step:
        if list(f) != names:
            raise SciflowError(f"data import vtk: {source}: fields {sorted(f)} at t={t} differ from {sorted(names)}")
    timed = len(per_step) > 1 or per_step[0][0] is not None
    if timed:
        fields = {n: np.stack([f[n] for _, f in per_step]) for n in names}
        times = [t for t, _ in per_step]
    else:
        fields, times = per_step[0][1], None
    attrs = import_attrs("vtk", source, {"location": location},
                         f"{coords.shape[0]} {location}s, {len(per_step)} step(s)")
    return points_dataset(coords, fields, times, attrs)
