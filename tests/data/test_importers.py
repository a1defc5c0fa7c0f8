"""Importers: small files of each foreign layout are written here, imported, and checked value by value."""

from __future__ import annotations

import gzip

import h5py
import numpy as np
import pytest

from sciflow.cli import main
from sciflow.data.importers import import_file, read_source
from sciflow.data.io import read_dataset
from sciflow.data.schema import cf_violations, check_dataset
from sciflow.errors import SciflowError

meshio = pytest.importorskip("meshio")


# ----------------------------------------------------------------------------------------- vtk
def _tri_mesh():
    pts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 0]], dtype=float)
    tris = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    return pts, tris


def test_vtu_point_and_cell_data(tmp_path):
    pts, tris = _tri_mesh()
    U = np.stack([pts[:, 0] + 2 * pts[:, 1], -pts[:, 1], np.zeros(5)], 1)
    m = meshio.Mesh(pts, [("triangle", tris)], point_data={"U": U, "p": pts[:, 0] ** 2},
                    cell_data={"nut": [np.array([1.0, 2.0, 3.0, 4.0])]})
    m.write(tmp_path / "f.vtu")
    out = import_file("vtk", tmp_path / "f.vtu", tmp_path / "f.nc")
    ds = read_dataset(out)
    assert ds["u"].dims == ("point",) and "z" not in ds  # a planar mesh: no z coordinate
    np.testing.assert_array_equal(ds["x"].values, pts[:, 0])
    np.testing.assert_array_equal(ds["u"].values, U[:, 0])
    np.testing.assert_array_equal(ds["v"].values, U[:, 1])
    np.testing.assert_array_equal(ds["p"].values, pts[:, 0] ** 2)
    assert check_dataset(ds, ("u", "v", "p"), "f.nc").kind == "points"
    assert cf_violations(ds) == []
    cells = read_source("vtk", tmp_path / "f.vtu", location="cell")
    np.testing.assert_allclose(cells["x"].values, pts[tris].mean(1)[:, 0])  # centroids
    np.testing.assert_array_equal(cells["nut"].values, [1, 2, 3, 4])


def test_xdmf_time_series_and_pvd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # meshio's TimeSeriesWriter writes its .h5 into the working directory
    pts, tris = _tri_mesh()
    times = [0.0, 0.25, 0.5]
    with meshio.xdmf.TimeSeriesWriter(str(tmp_path / "ts.xdmf")) as w:
        w.write_points_cells(pts, [("triangle", tris)])
        for t in times:
            w.write_data(t, point_data={"p": np.sin(pts[:, 0]) * (1 + t)})
    ds = read_source("vtk", tmp_path / "ts.xdmf")
    assert ds["p"].dims == ("t", "point")
    np.testing.assert_array_equal(ds["t"].values, times)
    np.testing.assert_allclose(ds["p"].values[2], np.sin(pts[:, 0]) * 1.5)
    # a ParaView collection of two VTU files
    for k in range(2):
        meshio.Mesh(pts, [("triangle", tris)], point_data={"p": pts[:, 1] + k}).write(tmp_path / f"s_{k}.vtu")
    (tmp_path / "s.pvd").write_text('<VTKFile type="Collection"><Collection>'
                                    '<DataSet timestep="0.1" file="s_0.vtu"/><DataSet timestep="0.3" file="s_1.vtu"/>'
                                    '</Collection></VTKFile>')
    pvd = read_source("vtk", tmp_path / "s.pvd")
    np.testing.assert_array_equal(pvd["t"].values, [0.1, 0.3])
    np.testing.assert_array_equal(pvd["p"].values[1], pts[:, 1] + 1)
    (tmp_path / "bad.pvd").write_text('<VTKFile><Collection><DataSet file="../../etc/passwd"/></Collection></VTKFile>')
    with pytest.raises(SciflowError, match="outside its directory"):
        read_source("vtk", tmp_path / "bad.pvd")


# ------------------------------------------------------------------------------------ openfoam
def _foam(path, cls, obj, body):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("/* test case */\nFoamFile\n{\n    version 2.0;\n    format ascii;\n"
                    f"    class {cls};\n    object {obj};\n}}\n// comment\n{body}\n")


def _write_polymesh(case, points, faces, owner, neighbour):
    poly = case / "constant" / "polyMesh"
    _foam(poly / "points", "vectorField", "points",
          f"{len(points)}\n(\n" + "\n".join(f"({p[0]:.17g} {p[1]:.17g} {p[2]:.17g})" for p in points) + "\n)")
    _foam(poly / "faces", "faceList", "faces",
          f"{len(faces)}\n(\n" + "\n".join(f"{len(f)}(" + " ".join(map(str, f)) + ")" for f in faces) + "\n)")
    _foam(poly / "owner", "labelList", "owner", f"{len(owner)}\n(\n" + "\n".join(map(str, owner)) + "\n)")
    _foam(poly / "neighbour", "labelList", "neighbour", f"{len(neighbour)}\n(" + " ".join(map(str, neighbour)) + ")")


def _block_mesh(case, xs, ys):
    """An nx × ny × 1 hex mesh on the tensor grid xs × ys × [0, 0.1] in OpenFOAM's polyMesh form."""
    nx, ny = len(xs) - 1, len(ys) - 1
    pid = lambda i, j, k: i + (nx + 1) * (j + (ny + 1) * k)  # noqa: E731
    points = [(xs[i], ys[j], 0.1 * k) for k in range(2) for j in range(ny + 1) for i in range(nx + 1)]
    cid = lambda i, j: i + nx * j  # noqa: E731
    faces, owner, neighbour = [], [], []
    for j in range(ny):
        for i in range(1, nx):
            faces.append([pid(i, j, 0), pid(i, j + 1, 0), pid(i, j + 1, 1), pid(i, j, 1)])
            owner.append(cid(i - 1, j)), neighbour.append(cid(i, j))
    for j in range(1, ny):
        for i in range(nx):
            faces.append([pid(i, j, 0), pid(i, j, 1), pid(i + 1, j, 1), pid(i + 1, j, 0)])
            owner.append(cid(i, j - 1)), neighbour.append(cid(i, j))
    for j in range(ny):
        for i, side in ((0, 0), (nx, nx - 1)):
            faces.append([pid(i, j, 0), pid(i, j, 1), pid(i, j + 1, 1), pid(i, j + 1, 0)])
            owner.append(cid(side, j))
    for i in range(nx):
        for j, side in ((0, 0), (ny, ny - 1)):
            faces.append([pid(i, j, 0), pid(i + 1, j, 0), pid(i + 1, j, 1), pid(i, j, 1)])
            owner.append(cid(i, side))
    for j in range(ny):
        for i in range(nx):
            for k in range(2):
                faces.append([pid(i, j, k), pid(i + 1, j, k), pid(i + 1, j + 1, k), pid(i, j + 1, k)])
                owner.append(cid(i, j))
    _write_polymesh(case, points, faces, owner, neighbour)
    xc, yc = (xs[1:] + xs[:-1]) / 2, (ys[1:] + ys[:-1]) / 2
    X, Y = np.meshgrid(xc, yc)  # cell c = i + nx j
    return X.ravel(), Y.ravel()


def test_openfoam_case_fields_and_cell_centres(tmp_path):
    case = tmp_path / "cavity"
    xs, ys = np.array([0.0, 0.1, 0.3, 0.6, 1.0]), np.array([0.0, 0.2, 0.5])  # graded cells
    xc, yc = _block_mesh(case, xs, ys)
    n = xc.size
    for t in ("0", "0.5"):
        vec = "\n".join(f"({a:.17g} {b:.17g} 0)" for a, b in zip(xc * float(t), -yc))
        _foam(case / t / "U", "volVectorField", "U", "dimensions [0 1 -1 0 0 0 0];\n"
              f"internalField nonuniform List<vector>\n{n}\n(\n{vec}\n)\n;\nboundaryField\n{{\n}}")
        _foam(case / t / "p", "volScalarField", "p", "dimensions [0 2 -2 0 0 0 0];\ninternalField uniform 3.5;\n"
              "boundaryField { walls { type zeroGradient; } }")
    (case / "constant" / "transportProperties").write_text("nu 0.01;")
    out = tmp_path / "of.nc"
    assert main(["data", "import", "openfoam", str(case), "--out", str(out)]) == 0
    ds = read_dataset(out)
    assert ds["u"].dims == ("t", "point") and "z" not in ds and list(ds["t"].values) == [0.0, 0.5]
    np.testing.assert_allclose(ds["x"].values, xc, rtol=0, atol=1e-14)  # computed from the polyMesh
    np.testing.assert_allclose(ds["y"].values, yc, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(ds["u"].values[1], xc * 0.5)
    np.testing.assert_array_equal(ds["v"].values[0], -yc)
    np.testing.assert_array_equal(ds["p"].values, np.full((2, n), 3.5))
    assert "polyMesh" in ds.attrs["cell_centres"]
    # a C field (writeCellCentres) is used when present; gzip-compressed fields are read
    shifted = "\n".join(f"({a + 10:.17g} {b:.17g} 0.05)" for a, b in zip(xc, yc))
    _foam(case / "0.5" / "C", "volVectorField", "C", f"internalField nonuniform List<vector> {n}({shifted});")
    raw = (case / "0.5" / "p").read_bytes()
    (case / "0.5" / "p").unlink()
    (case / "0.5" / "p.gz").write_bytes(gzip.compress(raw))
    latest = read_source("openfoam", case, time="latest")
    assert "t" not in latest.dims and latest.attrs["cell_centres"] == "field C in 0.5/"
    np.testing.assert_array_equal(latest["x"].values, xc + 10)
    np.testing.assert_array_equal(latest["p"].values, np.full(n, 3.5))


def test_openfoam_cell_centre_of_a_trapezoidal_prism(tmp_path):
    """One cell, trapezoid (0,0) (2,0) (1.5,1) (0.5,1) extruded to z = 1: centroid (1, 4/9, 1/2),
    not the vertex mean (1, 1/2, 1/2); OpenFOAM's pyramid decomposition is exact for planar faces."""
    base = [(0, 0), (2, 0), (1.5, 1), (0.5, 1)]
    points = [(x, y, z) for z in (0.0, 1.0) for x, y in base]
    faces = [[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]]
    case = tmp_path / "prism"
    _write_polymesh(case, points, faces, [0] * 6, [])
    _foam(case / "0" / "T", "volScalarField", "T", "internalField uniform 300;")
    from sciflow.data.importers.openfoam import cell_centres, read_mesh

    np.testing.assert_allclose(cell_centres(read_mesh(case))[0], [1, 4 / 9, 0.5], rtol=0, atol=1e-14)
    ds = read_source("openfoam", case)
    np.testing.assert_allclose([float(ds["x"][0]), float(ds["y"][0])], [1, 4 / 9], rtol=0, atol=1e-14)
    assert float(ds["T"][0]) == 300


def test_openfoam_errors_name_the_file(tmp_path):
    with pytest.raises(SciflowError, match="not a case directory"):
        read_source("openfoam", tmp_path)
    case = tmp_path / "c"
    _block_mesh(case, np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    (case / "0").mkdir()
    (case / "0" / "U").write_text("FoamFile\n{\n format binary;\n class volVectorField;\n}\n")
    with pytest.raises(SciflowError, match=r"0/U is binary; run 'foamFormatConvert'"):
        read_source("openfoam", case)


# ------------------------------------------------------------------------------------ pdebench
def test_pdebench_incompressible_ns_layout(tmp_path):
    b, nt, nx, ny = 4, 5, 6, 3
    x, y = (np.arange(nx) + 0.5) / nx, (np.arange(ny) + 0.5) / ny
    t = np.linspace(0, 1, nt)
    B, T, X, Y = np.meshgrid(np.arange(b), t, x, y, indexing="ij")
    vel = np.stack([B + T + X, 10 * Y - T], -1).astype(np.float32)  # (batch, t, x, y, 2)
    with h5py.File(tmp_path / "ns_incom.h5", "w") as f:
        f["velocity"] = vel
        f["t"] = np.tile(t, (b, 1))
        f["x-coordinate"], f["y-coordinate"] = x, y
        f["particles"] = (X + Y)[..., None].astype(np.float32)
        f["force"] = np.stack([X[:, 0], Y[:, 0]], -1).astype(np.float32)
    out = tmp_path / "ns.nc"
    assert main(["data", "import", "pdebench", str(tmp_path / "ns_incom.h5"), "--out", str(out),
                 "--fractions", "0.5,0.25,0.25"]) == 0
    ds = read_dataset(out)
    assert ds["u"].dims == ("sample", "t", "y", "x") and ds["force_x"].dims == ("sample", "y", "x")
    np.testing.assert_array_equal(ds["u"].transpose("sample", "t", "x", "y").values, vel[..., 0])
    np.testing.assert_array_equal(ds["v"].sel(sample=2, t=t[3], x=x[4]).values, vel[2, 3, 4, :, 1])
    np.testing.assert_array_equal(ds["c"].transpose("sample", "t", "x", "y").values, (X + Y).astype(np.float32))
    np.testing.assert_array_equal(ds["t"].values, t)
    assert list(ds["split"].values) == ["train", "train", "validation", "test"]
    assert check_dataset(ds, ("u", "v"), "ns.nc", trajectories=True).sample_dim == "sample"
    assert cf_violations(ds) == []


def test_pdebench_cfd_and_seed_group_layouts(tmp_path):
    b, nt, nx, ny = 3, 4, 5, 2
    rng = np.random.default_rng(0)
    arr = {k: rng.standard_normal((b, nt, nx, ny)).astype(np.float32) for k in ("Vx", "Vy", "density", "pressure")}
    with h5py.File(tmp_path / "2D_CFD.hdf5", "w") as f:
        for k, v in arr.items():
            f[k] = v
        f["x-coordinate"], f["y-coordinate"] = np.linspace(0, 1, nx), np.linspace(0, 1, ny)
        f["t-coordinate"] = np.linspace(0, 1, nt + 1)  # PDEBench stores the end time too
    ds = read_source("pdebench", tmp_path / "2D_CFD.hdf5")
    assert sorted(v for v in ds.data_vars if v != "split") == ["p", "rho", "u", "v"]
    np.testing.assert_array_equal(ds["p"].transpose("sample", "t", "x", "y").values, arr["pressure"])
    np.testing.assert_array_equal(ds["t"].values, np.linspace(0, 1, nt + 1)[:nt])
    assert list(ds["split"].values) == ["train", "validation", "test"]
    with h5py.File(tmp_path / "2D_diff-react.h5", "w") as f:
        for s in range(3):
            g = f.create_group(f"{s:04d}")
            g["data"] = np.full((nt, nx, ny, 2), s, dtype=np.float32) + np.arange(2)
            g["grid/x"], g["grid/y"], g["grid/t"] = np.linspace(-1, 1, nx), np.linspace(-1, 1, ny), np.arange(nt) * 0.5
    ds = read_source("pdebench", tmp_path / "2D_diff-react.h5", fields=["a", "b"])
    assert ds["a"].dims == ("sample", "t", "y", "x") and list(ds["seed"].values) == ["0000", "0001", "0002"]
    assert float(ds["b"].sel(sample=2).mean()) == 3.0 and float(ds["t"][-1]) == 1.5
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["stuff"] = np.zeros(3)
    with pytest.raises(SciflowError, match=r"no PDEBench layout found.*\['stuff'\]"):
        read_source("pdebench", tmp_path / "other.h5")


# ------------------------------------------------------------------------------------ the well
def write_well(path, n_traj=3, nt=4, nx=6, ny=5, seed=0):
    """A small file in The Well's layout; returns the arrays written."""
    rng = np.random.default_rng(seed)
    x, y, t = np.linspace(0, 1, nx), np.linspace(0, 2, ny), np.arange(nt) * 0.1
    pressure = rng.standard_normal((n_traj, nt, nx, ny)).astype(np.float32)
    velocity = rng.standard_normal((n_traj, nt, nx, ny, 2)).astype(np.float32)
    mask = rng.standard_normal((nx, ny)).astype(np.float32)
    stress = rng.standard_normal((n_traj, nt, nx, ny, 2, 2)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.attrs.update(dataset_name="shear_flow_test", grid_type="cartesian", n_spatial_dims=2,
                       n_trajectories=n_traj, simulation_parameters=["Reynolds"], Reynolds=1e4)
        d = f.create_group("dimensions")
        d.attrs["spatial_dims"] = ["x", "y"]
        d["time"], d["x"], d["y"] = t, x, y
        d["time"].attrs["sample_varying"] = False
        bc = f.create_group("boundary_conditions").create_group("x_periodic")
        bc.attrs.update(bc_type="periodic", associated_dims=["x"], sample_varying=False, time_varying=False)
        bc["mask"] = np.ones(nx, bool)
        g0 = f.create_group("t0_fields")
        g0.attrs["field_names"] = ["pressure", "mask"]
        g0["pressure"] = pressure
        g0["pressure"].attrs.update(sample_varying=True, time_varying=True, dim_varying=[True, True])
        g0["mask"] = mask
        g0["mask"].attrs.update(sample_varying=False, time_varying=False, dim_varying=[True, True])
        g1 = f.create_group("t1_fields")
        g1["velocity"] = velocity
        g1["velocity"].attrs.update(sample_varying=True, time_varying=True)
        g2 = f.create_group("t2_fields")
        g2["stress"] = stress
        g2["stress"].attrs.update(sample_varying=True, time_varying=True, symmetric=False)
        f.create_group("scalars")
    return {"pressure": pressure, "velocity": velocity, "mask": mask, "stress": stress, "t": t}


def test_the_well_file_and_split_directories(tmp_path):
    w = write_well(tmp_path / "shear.hdf5")
    ds = read_source("the_well", tmp_path / "shear.hdf5")
    assert ds["p"].dims == ("sample", "t", "y", "x") and ds["mask"].dims == ("sample", "y", "x")
    np.testing.assert_array_equal(ds["p"].transpose("sample", "t", "x", "y").values, w["pressure"])
    np.testing.assert_array_equal(ds["u"].transpose("sample", "t", "x", "y").values, w["velocity"][..., 0])
    np.testing.assert_array_equal(ds["v"].transpose("sample", "t", "x", "y").values, w["velocity"][..., 1])
    np.testing.assert_array_equal(ds["stress_xy"].transpose("sample", "t", "x", "y").values, w["stress"][..., 0, 1])
    np.testing.assert_array_equal(ds["mask"].isel(sample=2).transpose("x", "y").values, w["mask"])
    assert ds.attrs["well_dataset_name"] == "shear_flow_test" and '"Reynolds": 10000.0' in ds.attrs[
        "well_simulation_parameters"]
    assert '"bc_type": "periodic"' in ds.attrs["well_boundary_conditions"]
    for sub, n in (("train", 3), ("valid", 2), ("test", 1)):
        (tmp_path / "rel" / sub).mkdir(parents=True)
        write_well(tmp_path / "rel" / sub / "a.hdf5", n_traj=n, seed=n)
    out = import_file("the_well", tmp_path / "rel", tmp_path / "well.nc")
    ds = read_dataset(out)
    assert list(ds["split"].values) == ["train"] * 3 + ["validation"] * 2 + ["test"]
    assert check_dataset(ds, ("u", "v", "p"), "well.nc", trajectories=True).spatial_dims == ("y", "x")


def test_import_cli_errors(tmp_path, capsys):
    assert main(["data", "import", "vtk", str(tmp_path / "none.vtu"), "--out", str(tmp_path / "o.nc")]) == 2
    assert "source not found" in capsys.readouterr().err
    (tmp_path / "a.vtu").write_text("x")
    assert main(["data", "import", "vtk", str(tmp_path / "a.vtu"), "--out", str(tmp_path / "o.nc"),
                 "--fractions", "1,0,0"]) == 2
    assert "option(s) ['--fractions'] do not apply" in capsys.readouterr().err
    assert not (tmp_path / "o.nc").exists()
