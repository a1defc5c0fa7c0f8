"""DFG flow around a cylinder (Schäfer & Turek 1996) against the published benchmark values.

Default tests solve 2D-1 (Re 20) on a curved mesh with n_cyl=64 cells on the cylinder
(16k unknowns); slow tests run 2D-2 (Re 100, periodic) and a finer 2D-1 mesh.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from skfem import ElementTriP2, FacetBasis

from sciflow.cfd.cylinder_dfg import periodic_statistics, solve_2d1, solve_2d2
from sciflow.cfd.fem_unsteady import probe
from sciflow.cfd.mesh_gmsh import DFG_HEIGHT, DFG_LENGTH
from sciflow.data.io import read_dataset
from sciflow.data.recipes import make_dataset

ROOT = Path(__file__).resolve().parents[2]


def _reference() -> dict[str, float]:
    """Best-known 2D-1 values from datasets/reference/dfg_cylinder_2d1.csv."""
    with open(ROOT / "datasets/reference/dfg_cylinder_2d1.csv") as f:
        rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    header, body = rows[0], rows[1:]
    out = {}
    for r in body:
        rec = dict(zip(header, r))
        if rec["case"].startswith("2D-1") and rec["reference_value"]:
            out[rec["quantity"]] = float(rec["reference_value"])
    return out


REF = _reference()


@pytest.fixture(scope="module")
def flow():
    return solve_2d1(n_cyl=64, h_max=0.03, order=2)


def test_2d1_forces_and_pressure_difference_match_benchmark(flow):
    info = flow.info
    assert abs(info["c_D"] - REF["c_D"]) / REF["c_D"] <= 1e-3
    assert abs(info["c_L"] - REF["c_L"]) / REF["c_L"] <= 0.02
    assert abs(info["delta_p"] - REF["dp"]) / REF["dp"] <= 5e-3


def test_no_slip_on_curved_cylinder(flow):
    """Velocity vanishes on the curved cylinder edges (round-off) and those edges lie on the circle."""
    fb = FacetBasis(flow.gm.mesh, ElementTriP2(), facets=flow.gm.boundaries["cylinder"], intorder=6)
    ux, uy, _ = flow.th.split(flow.x)
    speed = np.hypot(np.asarray(fb.interpolate(ux)), np.asarray(fb.interpolate(uy)))
    assert speed.max() <= 1e-12 * flow.U_m
    xq = np.asarray(fb.global_coordinates())
    radius = np.hypot(xq[0] - 0.2, xq[1] - 0.2)
    # a chord would sit up to R(1 - cos(pi/64)) = 6e-5 inside the circle
    assert np.abs(radius - 0.05).max() <= 1e-7


def _section_flux(flow, x0: float, pieces: list[tuple[float, float]], n_sub: int = 400) -> float:
    g, wg = np.polynomial.legendre.leggauss(4)
    total = 0.0
    for a, b in pieces:
        edges = np.linspace(a, b, n_sub + 1)
        mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
        y = (mid[:, None] + half[:, None] * g).ravel()
        w = (half[:, None] * wg).ravel()
        total += w @ (probe(flow.th.sb, np.vstack([np.full_like(y, x0), y])) @ flow.th.split(flow.x)[0])
    return float(total)


def test_mass_flux_through_sections_equals_inflow(flow):
    q_in = 2.0 / 3.0 * flow.U_m * DFG_HEIGHT  # ∫ 4U y(H-y)/H² dy
    fb = FacetBasis(flow.gm.mesh, ElementTriP2(), facets=flow.gm.boundaries["outlet"], intorder=6)
    q_out = float(np.sum(np.asarray(fb.interpolate(flow.th.split(flow.x)[0])) * fb.dx))
    assert abs(q_out - q_in) <= 1e-12  # Taylor-Hood: (1, div u_h) = 0 exactly, walls are no-slip
    for x0, pieces in [(0.1, [(0.0, DFG_HEIGHT)]), (0.2, [(0.0, 0.15), (0.25, DFG_HEIGHT)]), (0.6, [(0.0, DFG_HEIGHT)]),
                       (1.5, [(0.0, DFG_HEIGHT)])]:
        assert abs(_section_flux(flow, x0, pieces) - q_in) / q_in <= 2e-4, x0


def test_2d1_dataset_has_fields_and_attrs(tmp_path):
    path = make_dataset(ROOT / "datasets/cylinder_2d1.yaml", {"nx": 111, "ny": 42, "n_theta": 72}, out=tmp_path / "c.nc", progress=False)
    ds = read_dataset(path, required=("u", "v", "p", "p_wall"))
    assert ds["u"].dims == ("y", "x") and ds["p_wall"].dims == ("theta",)
    for key in ("case", "solver", "parameters", "resolution", "wall_time_s", "c_D", "c_L", "delta_p", "nu", "Re"):
        assert key in ds.attrs, key
    assert abs(ds.attrs["c_D"] - REF["c_D"]) / REF["c_D"] <= 1e-3
    assert ds.attrs["Re"] == pytest.approx(20.0)
    X, Y = np.meshgrid(ds.x.values, ds.y.values)
    hole = np.hypot(X - 0.2, Y - 0.2) < 0.05
    assert hole.any() and np.isnan(ds["u"].values[hole]).all() and np.isfinite(ds["u"].values[~hole]).all()
    y = ds.y.values
    np.testing.assert_allclose(ds["u"].sel(x=0.0).values, 4 * 0.3 * y * (DFG_HEIGHT - y) / DFG_HEIGHT**2, atol=1e-12)
    assert np.abs(ds["u"].values[[0, -1]]).max() <= 1e-12 and np.abs(ds["v"].values[[0, -1]]).max() <= 1e-12
    assert ds.x.values[-1] == pytest.approx(DFG_LENGTH)
    # p_wall at θ = π and θ = 0 are the pressures at (0.15, 0.2) and (0.25, 0.2)
    pw = ds["p_wall"]
    assert float(pw.sel(theta=np.pi, method="nearest") - pw.sel(theta=0.0)) == pytest.approx(ds.attrs["delta_p"], abs=1e-12)


def test_periodic_statistics_recover_a_known_signal():
    """Strouhal number, maxima and means of a synthetic shedding signal (f = 3 Hz)."""
    t = np.arange(1, 2001) * 0.005
    c_L = 1.0 * np.sin(2 * np.pi * 3.0 * t + 0.3)
    c_D = 3.2 + 0.02 * np.sin(4 * np.pi * 3.0 * t)
    s = periodic_statistics(t, c_D, c_L, U_mean=1.0, n_periods=4)
    assert s["strouhal"] == pytest.approx(0.3, rel=1e-5)
    assert s["c_L_max"] == pytest.approx(1.0, rel=1e-4)
    assert s["c_D_max"] == pytest.approx(3.22, rel=1e-6)
    assert s["c_D_mean"] == pytest.approx(3.2, abs=1e-4)


@pytest.mark.slow
def test_2d1_converges_under_refinement_and_curved_beats_straight():
    coarse, fine = solve_2d1(64, 0.03), solve_2d1(128, 0.02)
    straight = solve_2d1(64, 0.03, order=1)
    err = lambda f, k, r: abs(f.info[k] - REF[r]) / REF[r]  # noqa: E731
    assert err(fine, "c_D", "c_D") <= 3e-5 and err(fine, "c_L", "c_L") <= 5e-3 and err(fine, "delta_p", "dp") <= 2e-4
    assert err(fine, "c_D", "c_D") < err(coarse, "c_D", "c_D")
    assert err(straight, "c_D", "c_D") > 5 * err(coarse, "c_D", "c_D")


@pytest.mark.slow
def test_2d2_periodic_shedding_within_benchmark_intervals():
    flow = solve_2d2(progress=False)
    info = flow.info
    assert info["periodic_rtol"] <= 1e-3
    assert 3.22 <= info["c_D_max"] <= 3.24
    assert 0.99 <= info["c_L_max"] <= 1.01
    assert 0.295 <= info["strouhal"] <= 0.305
