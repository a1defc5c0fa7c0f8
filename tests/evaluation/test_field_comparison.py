"""The generic field evaluation: the same metrics on a grid, at scattered points and against exact();
NaN reference entries ignored; fields defined up to a constant compared without their means."""

import math

import numpy as np
import pytest
import torch
import xarray as xr

import sciflow
from sciflow.errors import SciflowError
from sciflow.evaluation.field_comparison import compare_fields, field_figures, field_metrics
from sciflow.problems.geometry import Rectangle


class Wave(sciflow.Problem):
    """Fields u = sin πx sin πy and p = cos πx (defined up to a constant) on the unit square."""

    def __init__(self):
        super().__init__(inputs=("x", "y"), fields=(sciflow.Field("u", "m/s"), sciflow.Field("p", "Pa", up_to_constant=True)))
        self.domain = Rectangle(0.0, 1.0, 0.0, 1.0)

    def exact(self, x):
        return torch.cat([torch.sin(math.pi * x[:, :1]) * torch.sin(math.pi * x[:, 1:2]), torch.cos(math.pi * x[:, :1])], 1)


class Shifted(sciflow.PointwiseModel):
    """The exact fields with u scaled by (1 + eps) and p shifted by 5 (a free constant)."""

    def __init__(self, problem, eps=0.01):
        super().__init__()
        self.problem, self.eps = problem, eps
        self.unused = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def predict(self, x):
        f = self.problem.exact(x)
        return torch.cat([(1 + self.eps) * f[:, :1], f[:, 1:] + 5.0], 1)


def _grid():
    x, y = np.linspace(0, 1, 41), np.linspace(0, 1, 31)
    X, Y = np.meshgrid(x, y)
    f = Wave().exact(torch.as_tensor(np.stack([X.ravel(), Y.ravel()], 1))).numpy()
    return xr.Dataset({"u": (("y", "x"), f[:, 0].reshape(X.shape)), "p": (("y", "x"), f[:, 1].reshape(X.shape))},
                      coords={"x": x, "y": y})


def test_grid_points_and_exact_give_the_known_errors(tmp_path):
    problem = Wave()
    model = Shifted(problem)
    grid = compare_fields(problem, model, _grid())
    m = field_metrics(grid)
    assert m["u_rel_l2"] == pytest.approx(0.01, rel=1e-12)  # ‖εu‖/‖u‖ = ε
    assert m["u_max_error"] == pytest.approx(0.01, rel=1e-3)
    assert m["p_rel_l2"] < 1e-14 and m["p_max_error"] < 1e-13  # the constant 5 is free
    # the metrics users cite, by hand: e = 0.01 u, and u = sin πx sin πy vanishes on the four edges
    u = grid.ref["u"]
    assert m["u_nrmse"] == pytest.approx(0.01, rel=1e-12)
    assert m["u_rmse"] == pytest.approx(0.01 * np.sqrt((u ** 2).mean()), rel=1e-12)
    assert m["u_vrmse"] == pytest.approx(np.sqrt(((0.01 * u) ** 2).mean() / (u.var() + 1e-7)), rel=1e-12)
    assert m["u_crmse"] == pytest.approx(0.01 * u.mean(), rel=1e-12) and m["u_brmse"] < 1e-17
    assert m["u_frmse_low"] > m["u_frmse_mid"] > m["u_frmse_high"] > 0  # a smooth error: low wavenumbers
    assert max(m[f"p_{k}"] for k in ("nrmse", "vrmse", "rmse", "brmse", "frmse_low")) < 1e-12
    assert "p_crmse" not in m  # the domain mean of a field defined up to a constant is no quantity
    ds = _grid().stack(point=("y", "x")).reset_index("point")
    scattered = compare_fields(problem, model, ds)
    assert scattered.dims == ("point",)
    ms = field_metrics(scattered)
    assert ms["u_rel_l2"] == pytest.approx(m["u_rel_l2"], rel=1e-12)
    for k in ("nrmse", "vrmse", "rmse", "crmse"):  # one frame of the same points: the same values
        assert ms[f"u_{k}"] == pytest.approx(m[f"u_{k}"], rel=1e-12), k
    assert "u_brmse" not in ms and "u_frmse_low" not in ms  # no edges or Fourier modes at scattered points
    exact = compare_fields(problem, model)
    assert exact.source == "exact" and field_metrics(exact)["u_rel_l2"] == pytest.approx(0.01, rel=1e-12)
    for c in (grid, scattered):
        (path,) = field_figures(c, tmp_path, "t").values()
        assert path.stat().st_size > 10_000


def test_nan_reference_entries_are_ignored_and_errors_are_named():
    problem = Wave()
    ref = _grid()
    ref["u"][:5, :5] = np.nan
    c = compare_fields(problem, Shifted(problem), ref)
    assert np.isnan(c.pred["u"][:5, :5]).all()
    masked = field_metrics(c)
    assert masked["u_rel_l2"] == pytest.approx(0.01, rel=1e-12) and masked["u_nrmse"] == pytest.approx(0.01, rel=1e-12)
    assert "u_brmse" not in masked  # a grid with holes has no complete edges or spectrum
    with pytest.raises(SciflowError, match=r"reference dims \('t', 'x'\) of 'Wave' are not its inputs"):
        compare_fields(problem, Shifted(problem), ref.rename(y="t"))
    with pytest.raises(SciflowError, match="holds none of the fields"):
        compare_fields(problem, Shifted(problem), ref.rename(u="w", p="q"))
