"""A user's own reference file: the FEM cavity reference round-trips through VTU and `data import vtk`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from sciflow.api import build, evaluate, train
from sciflow.cli import main
from sciflow.data.io import read_dataset, write_dataset
from sciflow.errors import SciflowError
from sciflow.spec import load_spec, spec_from_dict

meshio = pytest.importorskip("meshio")

SPEC = {"name": "byo_cavity", "problem": {"name": "cavity", "Re": 100, "reference_mesh": 8, "reference_grid": 17},
        "model": {"name": "pinn", "width": 16, "depth": 2},
        "objective": {"name": "physics", "interior_points": 128},
        "training": {"phases": [{"optimizer": "adam", "steps": 20, "lr": 3e-3}], "log_every": 5, "tensorboard": False},
        "evaluation": {"targets": {"velocity_rel_l2": 10.0, "ghia_u_max_dev": 1e-9, "spectrum_error": 1.0}}}


def _write_vtu(ref, path):
    """The gridded reference as an unstructured VTU: quads over the grid, point data U (3-vector) and p."""
    ny, nx = ref.sizes["y"], ref.sizes["x"]
    X, Y = np.meshgrid(ref["x"].values, ref["y"].values)
    pts = np.stack([X.ravel(), Y.ravel(), np.zeros(X.size)], 1)
    idx = np.arange(X.size).reshape(ny, nx)
    quads = np.stack([idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), idx[1:, :-1].ravel()], 1)
    U = np.stack([ref["u"].values.ravel(), ref["v"].values.ravel(), np.zeros(X.size)], 1)
    meshio.Mesh(pts, [("quad", quads)], point_data={"U": U, "p_kin": ref["p"].values.ravel()}).write(path)


def test_fem_reference_round_trip_through_vtu_gives_the_same_metrics(tmp_path):
    run = train(spec_from_dict(SPEC), out=tmp_path / "run", progress=False)
    native = evaluate(run, progress=False)
    ref = build(spec_from_dict(SPEC))[0].reference(progress=False)
    _write_vtu(ref, tmp_path / "cavity_fem.vtu")
    data = tmp_path / "cfd"
    data.mkdir()
    assert main(["data", "import", "vtk", str(tmp_path / "cavity_fem.vtu"), "--out", str(data / "cavity.nc")]) == 0
    imported = read_dataset(data / "cavity.nc")
    assert imported["u"].dims == ("point",) and imported.sizes["point"] == 17 * 17
    # the same training (same seed; the reference plays no part in the physics loss), evaluated against
    # the imported file through problem.reference.path, relative to the spec file, with a variables mapping
    raw = json.loads(json.dumps(SPEC))
    raw["problem"]["reference"] = {"path": "../cfd/cavity.nc", "variables": {"p": "p_kin"}}
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "byo.yaml").write_text(yaml.safe_dump(raw))
    spec = load_spec(tmp_path / "specs" / "byo.yaml")
    assert spec.section("problem")["reference"]["path"] == str((data / "cavity.nc").resolve())
    byo = train(spec, out=tmp_path / "byo", progress=False)
    got = evaluate(byo, progress=False)
    for key in ("velocity_rel_l2", "u_rel_l2", "v_rel_l2", "p_rel_l2", "velocity_rel_l2_away_from_lid_corners"):
        assert got[key] == pytest.approx(native[key], rel=1e-3), key
    assert got["velocity_rel_l2"] == pytest.approx(native["velocity_rel_l2"], rel=1e-9)  # same points, same values
    saved = json.loads((byo / "evaluation" / "metrics.json").read_text())
    assert "vtk file" in saved["reference"]["source"]
    report = (run / "evaluation" / "report.md").read_text()
    heads = [ln for ln in report.splitlines() if ln.startswith("## ")]
    assert heads[:2] == ["## Case and reference", "## Headline metrics"] and heads[-1] == "## Provenance"
    assert "| velocity_rel_l2 |" in report and "1 (relative)" in report and "| train_seconds |" in report
    # units from the problem's fields, each target checked, a target without its metric reported as such
    assert f"| velocity_rel_l2 | {native['velocity_rel_l2']:.4g} | 1 (relative) | 10 | yes |" in report
    assert f"| ghia_u_max_dev | {native['ghia_u_max_dev']:.4g} | U | 1e-09 | no |" in report
    assert f"| p_max_error | {native['p_max_error']:.4g} | rho U^2 |  |  |" in report
    assert "| spectrum_error | not computed |  | 1 | no |" in report
    assert report.index("## Headline metrics") < report.index("![") < report.index("## Provenance")
    _check_export(run / "evaluation", ("y", "x"), 17 * 17)
    _check_export(byo / "evaluation", ("point",), 17 * 17)


def _check_export(ev, dims, n_points):
    """prediction.nc (CF) holds prediction, reference and error; prediction.vtu round-trips through meshio."""
    pytest.importorskip("cf_xarray")
    from sciflow.data.schema import cf_violations

    ds = read_dataset(ev / "prediction.nc")
    assert cf_violations(ds) == []
    if dims == ("y", "x"):
        assert set(ds.cf.axes) == {"X", "Y"}
    else:  # scattered: x, y are auxiliary coordinates of the field (CF 'coordinates' attribute)
        assert set(ds["u"].encoding["coordinates"].split()) == {"x", "y"} and ds["x"].dims == ("point",)
    for f in ("u", "v", "p"):
        assert ds[f].dims == dims
        np.testing.assert_allclose(ds[f"{f}_error"].values, ds[f].values - ds[f"{f}_reference"].values)
    mesh = meshio.read(ev / "prediction.vtu")
    assert mesh.points.shape == (n_points, 3)
    flat = ds["u"].values.ravel()  # grid (y, x) → y-major points; scattered: as stored
    np.testing.assert_array_equal(mesh.point_data["u"], flat)
    np.testing.assert_array_equal(mesh.points[:, 0], (np.meshgrid(ds["x"], ds["y"])[0].ravel() if dims != ("point",)
                                                      else ds["x"].values))


def test_reference_file_is_checked_before_training(tmp_path):
    g = np.linspace(0, 1, 5)
    import xarray as xr

    from sciflow.data.io import provenance

    ds = xr.Dataset({"U_x": (("y", "x"), np.zeros((5, 5))), "v": (("y", "x"), np.zeros((5, 5))),
                     "p": (("y", "x"), np.zeros((5, 5)))}, coords={"x": g, "y": g})
    ds.attrs = provenance("lid_driven_cavity", "another solver", {"Re": 400}, "5^2", 0.0)
    write_dataset(ds, tmp_path / "re400.nc")

    def spec(reference):
        return spec_from_dict({**SPEC, "problem": {"name": "cavity", "Re": 100, "reference": reference}})

    with pytest.raises(SciflowError, match=r"missing variable\(s\) \['u'\].*variables: \{u: <name in file>\}"):
        build(spec({"path": str(tmp_path / "re400.nc")}))
    with pytest.raises(SciflowError, match=r"re400\.nc: the file was made with Re=400, the problem has Re=100"):
        build(spec({"path": str(tmp_path / "re400.nc"), "variables": {"u": "U_x"}}))
    with pytest.raises(SciflowError, match=r"problem\.reference: unknown key\(s\) \['file'\]"):
        build(spec({"file": "x.nc"}))
    with pytest.raises(SciflowError, match="dataset file not found"):
        train(spec({"path": str(tmp_path / "absent.nc")}), out=tmp_path / "never", progress=False)
    never = tmp_path / "never"  # refused before training: no checkpoint, no metrics
    assert not list(never.rglob("*.pt")) and not (never / "metrics.csv").exists()


KOVASZNAY = {"name": "byo_kovasznay", "problem": {"name": "kovasznay", "Re": 40, "reference_grid": 9},
             "model": {"name": "pinn", "width": 8, "depth": 1},
             "objective": {"name": "physics", "interior_points": 64},
             "training": {"phases": [{"optimizer": "adam", "steps": 3, "lr": 1e-3}], "log_every": 1,
                          "tensorboard": False}}


def test_any_problem_takes_a_reference_file(tmp_path):
    """problem.reference.path is not cavity-only: Kovasznay against its exact solution stored at scattered
    points gives the native metrics; the same file with u scaled by 1.1 moves u_rel_l2 as computed by hand."""
    import xarray as xr

    from sciflow.evaluation.field_comparison import predict

    run = train(spec_from_dict(KOVASZNAY), out=tmp_path / "run", progress=False)
    native = evaluate(run, progress=False)
    problem = build(spec_from_dict(KOVASZNAY))[0]
    grid = problem.reference(progress=False)  # exact, (y, x)
    X, Y = np.meshgrid(grid["x"].values, grid["y"].values)
    pts = {"x": ("point", X.ravel()), "y": ("point", Y.ravel())}
    exact = xr.Dataset({f: ("point", grid[f].values.ravel()) for f in ("u", "v", "p")}, coords=pts,
                       attrs={"parameters": json.dumps({"Re": 40.0})})
    write_dataset(exact, tmp_path / "exact.nc")
    write_dataset(exact.assign(u=exact["u"] * 1.1), tmp_path / "scaled.nc")
    for name in ("exact", "scaled"):
        raw = json.loads(json.dumps(KOVASZNAY))
        raw["problem"]["reference"] = {"path": str(tmp_path / f"{name}.nc")}
        got = evaluate(train(spec_from_dict(raw), out=tmp_path / name, progress=False), progress=False)
        if name == "exact":
            for key in ("u_rel_l2", "v_rel_l2", "p_rel_l2"):
                assert got[key] == pytest.approx(native[key], rel=1e-9), key
        else:
            from sciflow.api import load_run

            u = predict(load_run(run).model, np.stack([X.ravel(), Y.ravel()], 1))[:, 0]
            ref = 1.1 * grid["u"].values.ravel()
            assert got["u_rel_l2"] == pytest.approx(np.linalg.norm(u - ref) / np.linalg.norm(ref), rel=1e-9)
            assert got["v_rel_l2"] == pytest.approx(native["v_rel_l2"], rel=1e-9)


def test_reference_grid_dims_must_be_the_problems_inputs(tmp_path):
    import xarray as xr

    g = np.linspace(0, 1, 4)
    ds = xr.Dataset({f: (("z", "x"), np.zeros((4, 4))) for f in ("u", "v", "p")}, coords={"x": g, "z": g})
    write_dataset(ds, tmp_path / "xz.nc")
    raw = json.loads(json.dumps(KOVASZNAY))
    raw["problem"]["reference"] = {"path": str(tmp_path / "xz.nc")}
    with pytest.raises(SciflowError, match=r"xz\.nc.*(lacks the space dim|are not inputs of 'kovasznay')"):
        build(spec_from_dict(raw))
