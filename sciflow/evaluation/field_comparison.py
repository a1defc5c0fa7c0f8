"""The generic field evaluation: a pointwise model's fields against a reference, for any problem.

Three steps, each usable alone (case evaluators and exporters build on them):

1. :func:`compare_fields` → :class:`FieldComparison`: the predicted and the reference fields at
   the reference's points. The reference is the problem's ``reference()`` dataset, either on a
   rectilinear grid (dims named as inputs, e.g. (y, x) or (t, y, x)) or at scattered points
   (dim ``point``, one coordinate per input), or else ``exact(x)`` on a grid spanning the
   problem's input bounds. Variables named as the problem's fields are compared; NaN reference
   entries (outside the flow) are ignored.
2. :func:`field_metrics`: per field, ``<f>_rel_l2 = ‖f − f_ref‖₂/‖f_ref‖₂`` (after removing each
   mean for a field defined up to a constant, such as the pressure; left out where the reference
   field is zero, e.g. v of a parallel flow), ``<f>_max_error = max |f − f_ref|`` and the metrics users
   cite from PDEBench and The Well (:func:`cited_metrics`: nRMSE, VRMSE, RMSE, cRMSE, bRMSE, fRMSE bands).
3. :func:`field_figures`: prediction | reference | error per field, axes and colour bars labelled
   with the inputs and the fields' units (grids: the last time slice of a transient field); colour
   scales robust to singular points: prediction and reference over the 0.5-99.5th percentiles of the
   reference, |error| over 0 … its 99th percentile (larger values in the top colour); the problem's
   singular points circled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sciflow.errors import SciflowError
from sciflow.evaluation import metrics as M
from sciflow.problems.base import ExactSolution, ReferenceSolution

EXACT_GRID_POINTS = 20000  # points of the grid on which exact() is compared, over all inputs


@dataclass
class FieldComparison:
    """Predicted and reference fields at the same points.

    ``dims``: the reference's dims, e.g. ("y", "x"), ("t", "y", "x") or ("point",);
    ``coords``: {dim: (n_dim,)} on a grid, {input: (P,)} at scattered points;
    ``pred``, ``ref``: {field: array shaped by ``dims``}; ``units``: {field: units};
    ``up_to_constant``: fields compared after removing their means; ``source``: "reference" | "exact".
    """

    dims: tuple[str, ...]
    coords: dict[str, np.ndarray]
    pred: dict[str, np.ndarray]
    ref: dict[str, np.ndarray]
    units: dict[str, str]
    up_to_constant: set[str] = field(default_factory=set)
    source: str = "reference"
    attrs: dict = field(default_factory=dict)

    @property
    def gridded(self) -> bool:
        return self.dims != ("point",)

    @property
    def fields(self) -> list[str]:
        return list(self.ref)


def predict(model, points: np.ndarray) -> np.ndarray:
    """The model's fields (P, C) at points (P, D), as float64 numpy."""
    prm = next(model.parameters())
    x = torch.as_tensor(np.asarray(points, dtype=np.float64)).to(prm.device, prm.dtype)
    return model.predict(x).double().cpu().numpy()


def _reference_dataset(problem, progress: bool):
    if problem.user_reference is not None:
        return problem.user_reference, "reference"
    if isinstance(problem, ReferenceSolution):
        return problem.reference(progress=progress), "reference"
    if isinstance(problem, ExactSolution):
        return exact_dataset(problem), "exact"
    raise SciflowError(f"evaluate: problem '{problem.name}' has neither reference() nor exact(); "
                       "define one of them to compare a model with it")


def exact_dataset(problem, n_total: int = EXACT_GRID_POINTS):
    """``exact(x)`` on a rectilinear grid spanning the problem's input bounds (dims in reverse input order)."""
    import xarray as xr

    bounds = problem.input_bounds()
    if bounds is None:
        raise SciflowError(f"evaluate: problem '{problem.name}' declares no input bounds (domain or "
                           "input_bounds()), so exact() has no grid to be compared on")
    inputs = problem.coordinate_inputs  # a parametric input takes its current value
    n = max(5, int(round(n_total ** (1.0 / len(inputs)))))
    axes = [np.linspace(lo, hi, n) for lo, hi in list(zip(*bounds))[:len(inputs)]]
    mesh = np.meshgrid(*axes[::-1], indexing="ij")  # (..., y, x): last input first
    pts = np.stack([m.ravel() for m in mesh[::-1]], 1)
    values = problem.exact(torch.as_tensor(pts, dtype=torch.float64))
    values = np.asarray(values.detach().cpu().double().numpy() if torch.is_tensor(values) else values)
    dims = tuple(inputs[::-1])
    data = {f: (dims, values[:, i].reshape(mesh[0].shape)) for i, f in enumerate(problem.field_names)}
    return xr.Dataset(data, coords={k: a for k, a in zip(inputs, axes)},
                      attrs={"case": problem.name, "solver": "exact solution"})


def compare_fields(problem, model, ref=None, progress: bool = True) -> FieldComparison:
    """Predicted and reference fields on the reference's points (``ref``: the dataset, else the problem's)."""
    source = "reference"
    if ref is None:
        ref, source = _reference_dataset(problem, progress)
    names = [f for f in problem.field_names if f in ref.data_vars]
    if not names:
        raise SciflowError(f"evaluate: the reference of '{problem.name}' holds none of the fields "
                           f"{problem.field_names} (it has {sorted(ref.data_vars)})")
    dims = tuple(ref[names[0]].dims)
    inputs = list(problem.coordinate_inputs)  # a parametric input takes its current value
    if dims == ("point",):
        missing = [i for i in inputs if i not in ref.coords and i not in ref.data_vars]
        if missing:
            raise SciflowError(f"evaluate: scattered reference of '{problem.name}' lacks coordinate(s) {missing}")
        coords = {i: np.asarray(ref[i].values, float) for i in inputs}
        pts = np.stack([coords[i] for i in inputs], 1)
        shape = (len(pts),)
    else:
        unknown = [d for d in dims if d not in inputs]
        if unknown or len(dims) != len(inputs):
            raise SciflowError(f"evaluate: reference dims {dims} of '{problem.name}' are not its inputs {tuple(inputs)}")
        coords = {d: np.asarray(ref[d].values, float) for d in dims}
        mesh = np.meshgrid(*(coords[d] for d in dims), indexing="ij")
        by_input = dict(zip(dims, mesh))
        pts = np.stack([by_input[i].ravel() for i in inputs], 1)
        shape = mesh[0].shape
    out = predict(model, pts)
    index = {f: i for i, f in enumerate(problem.field_names)}
    units = {f.name: f.units for f in problem.fields}
    pred, refs = {}, {}
    for f in names:
        r = np.asarray(ref[f].transpose(*dims).values, float)
        pred[f] = np.where(np.isfinite(r), out[:, index[f]].reshape(shape), np.nan)
        refs[f] = r
    return FieldComparison(dims, coords, pred, refs, {f: units[f] for f in names},
                           {f.name for f in problem.fields if f.up_to_constant and f.name in names}, source,
                           dict(ref.attrs))


def field_metrics(c: FieldComparison) -> dict[str, float]:
    """``<f>_rel_l2`` and ``<f>_max_error`` per field (module docstring)."""
    out = {}
    for f in c.fields:
        p, r = c.pred[f], c.ref[f]
        spread = np.nanmax(r) - np.nanmin(r) if f in c.up_to_constant else np.nanmax(np.abs(r))
        if not spread > 0:  # a zero reference (up to a constant): no relative error exists, only the absolute one
            out[f"{f}_max_error"] = M.max_abs(p - np.nanmean(p), r) if f in c.up_to_constant else M.max_abs(p, r)
        elif f in c.up_to_constant:
            m = np.isfinite(p) & np.isfinite(r)
            out[f"{f}_rel_l2"] = M.rel_l2_up_to_constant(p, r)
            out[f"{f}_max_error"] = float(np.max(np.abs((p[m] - p[m].mean()) - (r[m] - r[m].mean()))))
        else:
            out[f"{f}_rel_l2"] = M.rel_l2(p, r)
            out[f"{f}_max_error"] = M.max_abs(p, r)
        if spread > 0:
            out.update(cited_metrics(c, f))
    return out


def cited_metrics(c: FieldComparison, f: str) -> dict[str, float]:
    """The other metrics of :mod:`sciflow.evaluation.metrics` for field ``f`` (after removing each mean for a
    field defined up to a constant, which then has no ``crmse``): ``<f>_nrmse``, ``_vrmse``, ``_rmse``, ``_crmse``
    and, on a complete grid (no NaN entry), ``_brmse`` and ``_frmse_low|mid|high`` with the coordinate spans as
    the lengths. A leading ``t`` dim is the frame axis (each metric averaged over the frames whose reference is
    not identically zero); scattered points
    and grids with NaN (outside the flow) count as one frame of their finite points."""
    p, r = c.pred[f], c.ref[f]
    finite = np.isfinite(p) & np.isfinite(r)
    if not finite.all() or not c.gridded:
        p, r = p[finite], r[finite]
        space, complete = 1, False
    else:
        space, complete = len(c.dims) - (1 if c.dims[0] == "t" else 0), True
        if space < len(c.dims):  # frames whose reference is zero (a start from rest) have no relative error
            live = [k for k in range(r.shape[0]) if np.any(r[k] != 0)]
            p, r = p[live], r[live]
    if f in c.up_to_constant:
        p, r = p - p.mean(), r - r.mean()
    lengths = [float(np.ptp(c.coords[d])) for d in c.dims[len(c.dims) - space:]] if complete else None
    got = M.field_metrics(p, r, f, n_space=space, boundary=complete, fourier=complete, lengths=lengths)
    keep = {k: v for k, v in got.items() if not k.endswith(("_rel_l2", "_max_error"))}
    if f in c.up_to_constant:
        keep.pop(f"{f}_crmse")
    return keep


def field_figures(c: FieldComparison, out: Path, title: str = "", singular=(), radius: float = 0.1) -> dict[str, Path]:
    """One PNG ``field_comparison.png``: rows fields, columns prediction | reference | |error| (module docstring);
    ``singular``: points (first two inputs) circled with ``radius`` on 2D maps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patches
    import matplotlib.pyplot as plt

    names = c.fields
    fig, axes = plt.subplots(len(names), 3, figsize=(11.5, 3.2 * len(names)), squeeze=False)
    if c.gridded:
        ydim, xdim = (c.dims[-2], c.dims[-1]) if len(c.dims) >= 2 else (None, c.dims[-1])
        lead = c.dims[:-2]
        note = ", ".join(f"{d} = {c.coords[d][-1]:.4g}" for d in lead)
    else:
        xdim, ydim, note = list(c.coords)[0], (list(c.coords)[1] if len(c.coords) > 1 else None), ""
    for i, f in enumerate(names):
        p, r = c.pred[f], c.ref[f]
        if f in c.up_to_constant:
            p, r = p - np.nanmean(p), r - np.nanmean(r)
        if c.gridded and len(c.dims) > 2:
            p, r = p.reshape((-1,) + p.shape[-2:])[-1], r.reshape((-1,) + r.shape[-2:])[-1]
        lo, hi = np.nanpercentile(r, [0.5, 99.5])
        err = np.abs(p - r)
        top = float(np.nanpercentile(err, 99)) if np.isfinite(err).any() else 0.0
        for j, (data, label) in enumerate(((p, "prediction"), (r, "reference"), (err, "|error|"))):
            ax = axes[i, j]
            kw = ({"vmin": lo, "vmax": hi, "cmap": "RdBu_r"} if j < 2 else
                  {"cmap": "magma", "vmin": 0.0, "vmax": top if top > 0 else None})
            if c.gridded and ydim is not None:
                im = ax.pcolormesh(c.coords[xdim], c.coords[ydim], data, shading="auto", **kw)
            elif c.gridded:
                im = None
                ax.plot(c.coords[xdim], data)
            elif ydim is not None:
                im = ax.scatter(c.coords[xdim], c.coords[ydim], c=data, s=4, **kw)
            else:
                im = None
                ax.plot(c.coords[xdim], data, ".")
            ax.set_xlabel(xdim)
            if ydim is not None:
                ax.set_ylabel(ydim)
            ax.set_title(f"{f} [{c.units[f]}]: {label}", fontsize=9)
            if im is not None:
                over = j == 2 and top > 0 and np.nanmax(data) > top
                fig.colorbar(im, ax=ax, shrink=0.8, extend="max" if over else "neither",
                             label=f"{f} [{c.units[f]}]" + (" (99th pct.)" if j == 2 else ""))
                for k, (cx, cy) in enumerate(singular):
                    ax.add_patch(matplotlib.patches.Circle((cx, cy), radius, fill=False, ec="c", lw=1.0, ls="--",
                                                           label="singular point" if k == 0 else None))
    fig.suptitle(f"{title} ({c.source}{'; ' + note if note else ''})")
    fig.tight_layout()
    path = Path(out) / "field_comparison.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"Fields: prediction | reference | error": path}
