"""evaluate writes prediction.nc (CF, schema order) and a ParaView file for every grid the comparison uses:
a 2D transient (t, y, x) and a 1D transient (t, x), each a time series (.xdmf) that round-trips through meshio."""

from __future__ import annotations

import numpy as np
import pytest

from sciflow.api import evaluate, train
from sciflow.data.io import read_dataset
from sciflow.spec import spec_from_dict

meshio = pytest.importorskip("meshio")

TRAINING = {"phases": [{"optimizer": "adam", "steps": 2, "lr": 1e-3}], "log_every": 1, "tensorboard": False}


@pytest.mark.parametrize("problem, dims, fields", [
    ({"name": "poiseuille_startup", "Re": 10.0, "t_end": 1.0}, ("t", "y", "x"), ("u", "v", "p")),
    ({"name": "convection", "reference_nx": 33, "reference_nt": 9}, ("t", "x"), ("u",)),
])
def test_transient_predictions_are_exported_as_time_series(tmp_path, problem, dims, fields):
    spec = spec_from_dict({"name": "export", "problem": problem, "model": {"name": "pinn", "width": 8, "depth": 1},
                           "objective": {"name": "physics", "interior_points": 64}, "training": TRAINING})
    run = train(spec, out=tmp_path / "run", progress=False)
    evaluate(run, progress=False)
    ev = run / "evaluation"
    ds = read_dataset(ev / "prediction.nc")
    for f in fields:
        assert ds[f].dims == dims
        np.testing.assert_allclose(ds[f"{f}_error"].values, ds[f].values - ds[f"{f}_reference"].values)
    assert ds["x"].attrs.get("axis") == "X" and ds["t"].attrs["long_name"] == "time"
    if pytest.importorskip("cf_xarray"):
        from sciflow.data.schema import cf_violations

        assert cf_violations(ds) == []
    reader = meshio.xdmf.TimeSeriesReader(str(ev / "prediction.xdmf"))
    points, cells = reader.read_points_cells()
    assert reader.num_steps == ds.sizes["t"]
    space = [d for d in dims if d != "t"]
    assert len(points) == int(np.prod([ds.sizes[d] for d in space]))
    assert cells[0].type == {1: "line", 2: "quad"}[len(space)]
    k = ds.sizes["t"] // 2
    t, point_data, _ = reader.read_data(k)
    assert t == pytest.approx(float(ds["t"][k]))
    np.testing.assert_array_equal(point_data[fields[0]], ds[fields[0]].isel(t=k).values.ravel())
    np.testing.assert_array_equal(points[:, 0], np.meshgrid(*[ds[d].values for d in space], indexing="ij")[-1].ravel())


def test_hexahedral_grid_mesh_orders_points_x_fastest():
    from sciflow.evaluation.export import _grid_mesh

    pts, cells = _grid_mesh({"x": np.arange(3.0), "y": np.arange(2.0) * 10, "z": np.arange(2.0) * 100})
    assert pts.shape == (12, 3) and cells[0][0] == "hexahedron" and cells[0][1].shape == (2, 8)
    np.testing.assert_array_equal(pts[:4], [[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 10, 0]])
    first = pts[cells[0][1][0]]  # the unit cell's 8 corners span exactly one step in each direction
    assert np.ptp(first, 0).tolist() == [1, 10, 100]
