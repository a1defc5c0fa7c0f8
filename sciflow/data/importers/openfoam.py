"""OpenFOAM case directories (ASCII, optionally gzip-compressed), read without OpenFOAM installed.

``read(source, time="all", fields=None)``: ``source`` is a case directory (``constant/polyMesh``
plus time directories ``0``, ``0.5``, ...). Read: the ``internalField`` of every
``volScalarField`` and ``volVectorField`` in the chosen time directories (``uniform`` or
``nonuniform List<scalar|vector>``), i.e. one value per cell, at the cell centres. The centres come
from a ``C`` field (``postProcess -func writeCellCentres``) when the case has one, otherwise they
are computed from the polyMesh as OpenFOAM does (``primitiveMesh::makeCellCentresAndVols``):

    face centre  x_f = Σ_t a_t c_t / Σ_t a_t   over triangles (p_i, p_i+1, x̄_f) about the face's vertex mean x̄_f,
    cell centre  x_c = Σ_f V_f (¾ x_f + ¼ x̂_c) / Σ_f V_f   over pyramids (face f, apex x̂_c = mean of the x_f),

with V_f the pyramid volumes. ``time``: "all", "latest" or one time-directory name. Boundary
patches are not read. Binary files are refused with a clear error (convert them with
``foamFormatConvert``, or export with ``foamToVTK`` and use ``sciflow data import vtk``).
Output dims ``([t,] point)`` with coordinates x, y[, z] on ``point``; ``U`` → u, v, w.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np

from sciflow.data.importers.common import add_field, import_attrs, points_dataset
from sciflow.errors import SciflowError

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _text(path: Path) -> str:
    for cand in (path, path.with_name(path.name + ".gz")):
        if cand.exists():
            raw = gzip.open(cand).read() if cand.suffix == ".gz" else cand.read_bytes()
            text = raw.decode("latin-1")
            head = text[:2000]
            if re.search(r"format\s+binary\s*;", head):
                raise SciflowError(f"data import openfoam: {cand} is binary; run 'foamFormatConvert' (writeFormat "
                                   f"ascii) or 'foamToVTK' and 'sciflow data import vtk'")
            return re.sub(r"/\*.*?\*/", " ", re.sub(r"//[^\n]*", " ", text), flags=re.S)
    raise SciflowError(f"data import openfoam: file not found: {path}")


def _header_class(text: str) -> str | None:
    m = re.search(r"FoamFile\s*\{[^}]*\bclass\s+(\w+)\s*;", text)
    return m.group(1) if m else None


def _list_body(text: str, start: int, what: str, where: Path) -> tuple[int, str]:
    """After position ``start``: ``N ( ... )`` → (N, body text inside the outer parentheses)."""
    m = re.compile(r"\s*(\d+)\s*\(").match(text, start)
    if not m:
        m2 = re.compile(r"\s*(\d+)\s*\{\s*(" + _NUMBER + r")\s*\}").match(text, start)  # N{value} shorthand
        if m2:
            return int(m2.group(1)), "{" + m2.group(2) + "}"
        raise SciflowError(f"data import openfoam: {where}: cannot read the {what} list")
    n, depth, i = int(m.group(1)), 1, m.end()
    while depth and i < len(text):
        c = text[i]
        depth += (c == "(") - (c == ")")
        i += 1
    if depth:
        raise SciflowError(f"data import openfoam: {where}: unterminated {what} list")
    return n, text[m.end():i - 1]


def _numbers(body: str) -> np.ndarray:
    return np.array(re.findall(_NUMBER, body), dtype=np.float64)


def read_field(path: Path, n_cells: int | None = None) -> tuple[str, np.ndarray]:
    """(class, values) of a volScalarField (n_cells,) or volVectorField (n_cells, 3) internalField."""
    text = _text(path)
    cls = _header_class(text)
    if cls not in ("volScalarField", "volVectorField"):
        raise SciflowError(f"data import openfoam: {path}: class {cls} is not read (volScalarField, volVectorField)")
    ncomp = 1 if cls == "volScalarField" else 3
    m = re.search(r"\binternalField\s+(uniform|nonuniform)\s*", text)
    if not m:
        raise SciflowError(f"data import openfoam: {path}: no internalField")
    if m.group(1) == "uniform":
        end = text.index(";", m.end())
        value = _numbers(text[m.end():end])
        if value.size != ncomp:
            raise SciflowError(f"data import openfoam: {path}: uniform value has {value.size} components, not {ncomp}")
        if n_cells is None:
            raise SciflowError(f"data import openfoam: {path}: uniform field needs the cell count from the mesh")
        vals = np.tile(value, (n_cells, 1))
    else:
        lm = re.compile(r"List<(scalar|vector)>").match(text, m.end())
        if not lm:
            raise SciflowError(f"data import openfoam: {path}: nonuniform internalField is not a List<scalar|vector>")
        n, body = _list_body(text, lm.end(), "internalField", path)
        if body.startswith("{"):
            vals = np.tile(_numbers(body), (n, 1))
        else:
            vals = _numbers(body)
            if vals.size != n * ncomp:
                raise SciflowError(f"data import openfoam: {path}: {vals.size} numbers for {n} values of {ncomp}")
            vals = vals.reshape(n, ncomp)
        if n_cells is not None and n != n_cells:
            raise SciflowError(f"data import openfoam: {path}: {n} values for a mesh of {n_cells} cells")
    return cls, vals[:, 0] if ncomp == 1 else vals


def _poly_list(path: Path, what: str):
    text = _text(path)
    body_start = text.index("}", text.index("FoamFile")) + 1 if "FoamFile" in text else 0
    return _list_body(text, body_start, what, path)


def read_mesh(case: Path) -> dict:
    """points (P, 3), faces [list of vertex-index arrays], owner (F,), neighbour (F_internal,), n_cells."""
    poly = case / "constant" / "polyMesh"
    n_p, body = _poly_list(poly / "points", "points")
    points = _numbers(body).reshape(n_p, 3)
    n_f, body = _poly_list(poly / "faces", "faces")
    faces = [np.array(f.split(), dtype=np.int64) for f in re.findall(r"\d+\s*\(([^()]*)\)", body)]
    if len(faces) != n_f:
        raise SciflowError(f"data import openfoam: {poly / 'faces'}: read {len(faces)} faces of {n_f}")
    n_o, body = _poly_list(poly / "owner", "owner")
    owner = _numbers(body).astype(np.int64)
    n_n, body = _poly_list(poly / "neighbour", "neighbour")
    neighbour = _numbers(body).astype(np.int64)
    if owner.size != n_f or neighbour.size != n_n:
        raise SciflowError(f"data import openfoam: {poly}: owner/neighbour sizes do not match the faces")
    n_cells = int(max(owner.max(), neighbour.max() if neighbour.size else -1)) + 1
    return {"points": points, "faces": faces, "owner": owner, "neighbour": neighbour, "n_cells": n_cells}


def cell_centres(mesh: dict) -> np.ndarray:
    """Cell centres (n_cells, 3) by OpenFOAM's face-triangle / cell-pyramid decomposition (module docstring)."""
    pts, faces, owner, neighbour, n = (mesh[k] for k in ("points", "faces", "owner", "neighbour", "n_cells"))
    fc = np.empty((len(faces), 3))
    fa = np.empty((len(faces), 3))  # area vectors
    for i, f in enumerate(faces):
        p = pts[f]
        mean = p.mean(axis=0)
        q = np.roll(p, -1, axis=0)
        n_t = np.cross(p - mean, q - mean) / 2  # triangle area vectors
        c_t = (p + q + mean) / 3
        a_t = np.linalg.norm(n_t, axis=1)
        fc[i] = (a_t[:, None] * c_t).sum(0) / max(a_t.sum(), 1e-300)
        fa[i] = n_t.sum(0)
    cells = [owner, neighbour]
    est = np.zeros((n, 3))
    count = np.zeros(n)
    for c, idx in zip(cells, (slice(None), slice(0, neighbour.size))):
        np.add.at(est, c, fc[idx])
        np.add.at(count, c, 1)
    est /= np.maximum(count, 1)[:, None]
    num = np.zeros((n, 3))
    vol = np.zeros(n)
    for c, idx, sign in ((owner, slice(None), 1.0), (neighbour, slice(0, neighbour.size), -1.0)):
        pyr = np.abs(sign * np.einsum("ij,ij->i", fa[idx], fc[idx] - est[c])) / 3
        np.add.at(vol, c, pyr)
        np.add.at(num, c, pyr[:, None] * (0.75 * fc[idx] + 0.25 * est[c]))
    return num / np.maximum(vol, 1e-300)[:, None]


def _time_dirs(case: Path) -> list[tuple[float, Path]]:
    out = []
    for d in case.iterdir():
        if d.is_dir():
            try:
                out.append((float(d.name), d))
            except ValueError:
                continue
    return sorted(out)


def read(source: Path, time: str = "all", fields: list[str] | None = None):
    case = source
    if not (case / "constant" / "polyMesh").is_dir():
        raise SciflowError(f"data import openfoam: {case} is not a case directory (no constant/polyMesh)")
    times = _time_dirs(case)
    if not times:
        raise SciflowError(f"data import openfoam: {case} has no time directories")
    mesh = read_mesh(case)
    n = mesh["n_cells"]
    centres, centre_source = None, "computed from polyMesh (pyramid decomposition)"
    for _, d in reversed(times):
        if (d / "C").exists() or (d / "C.gz").exists():
            centres = read_field(d / "C", n)[1]
            centre_source = f"field C in {d.name}/"
            break
    if centres is None:
        centres = cell_centres(mesh)

    def field_names(d: Path) -> list[str]:
        names = []
        for f in sorted(d.iterdir()):
            name = f.name[:-3] if f.name.endswith(".gz") else f.name
            if not f.is_file() or name == "C" or (fields and name not in fields):
                continue
            head = _text(f)[:4000] if f.stat().st_size else ""
            if _header_class(head) in ("volScalarField", "volVectorField"):
                names.append(name)
        return names

    with_fields = [(t, d) for t, d in times if field_names(d)]
    if not with_fields:
        raise SciflowError(f"data import openfoam: no volScalarField/volVectorField in the time directories of {case}")
    if time == "latest":
        chosen = with_fields[-1:]
    elif time == "all":
        chosen = with_fields
    else:
        chosen = [(t, d) for t, d in with_fields if d.name == str(time)]
        if not chosen:
            raise SciflowError(f"data import openfoam: time '{time}' not among {[d.name for _, d in with_fields]}")
    names = field_names(chosen[-1][1])
    per_step = []
    for t, d in chosen:
        got = {}
        for name in names:
            if not ((d / name).exists() or (d / (name + ".gz")).exists()):
                raise SciflowError(f"data import openfoam: field '{name}' missing in time directory {d}")
            cls, vals = read_field(d / name, n)
            add_field(got, name, vals, None if cls == "volScalarField" else 1)
        per_step.append(got)
    keys = list(per_step[0])
    if len(per_step) > 1:
        data = {k: np.stack([s[k] for s in per_step]) for k in keys}
        tvals = [t for t, _ in chosen]
    else:
        data, tvals = per_step[0], None
    attrs = import_attrs("openfoam", source, {"time": str(time), "fields": fields or "all"},
                         f"{n} cells, {len(chosen)} time(s)",
                         {"cell_centres": centre_source, "openfoam_times": [d.name for _, d in chosen]})
    return points_dataset(centres, data, tvals, attrs)
