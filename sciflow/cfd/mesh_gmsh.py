"""Triangular meshes from gmsh (Python API, headless) as scikit-fem meshes.

Two geometries are built here:

* the DFG channel with a circular hole (Schäfer & Turek 1996): ``[0, 2.2] × [0, 0.41]``
  minus the disc of diameter ``D = 0.1`` centred at ``(0.2, 0.2)``;
* a 2D channel with sinusoidal walls ``y = ±R(x)``, ``R(x) = R0 + A sin(2π N x / L)``.

With ``order=2`` gmsh places the edge mid-nodes of boundary edges on the true curve, and
the mesh becomes a :class:`skfem.MeshTri2` (isoparametric P2 geometry), so integrals and
boundary conditions see the curved boundary; ``order=1`` gives straight-sided
:class:`skfem.MeshTri1` triangles (the chord approximation, kept for comparison).

Boundary facets are classified geometrically (only facets on the boundary are ever
considered, never interior facets that happen to satisfy a predicate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from skfem import MeshTri1, MeshTri2

from sciflow.errors import SciflowError

# DFG benchmark geometry (Schäfer & Turek 1996).
DFG_LENGTH = 2.2
DFG_HEIGHT = 0.41
DFG_CENTER = (0.2, 0.2)
DFG_DIAMETER = 0.1


@dataclass
class GmshMesh:
    """A scikit-fem mesh with named boundary-facet index arrays.

    ``vertices(mesh)``: (2, n_vertices); ``mesh.t``: (3, n_triangles); for ``MeshTri2`` the
    edge mid-nodes sit in ``mesh.doflocs[:, n_vertices:]``. ``boundaries[name]``: (n_facets,)
    indices into ``mesh.facets``.
    """

    mesh: MeshTri1 | MeshTri2
    boundaries: dict[str, np.ndarray]
    order: int

    def facet_nodes(self, name: str) -> np.ndarray:
        """(2, n) coordinates of the geometry nodes on a boundary: vertices, then facet mid-nodes."""
        f = self.boundaries[name]
        verts = vertices(self.mesh)[:, np.unique(self.mesh.facets[:, f])]
        return np.hstack([verts, _edge_midnodes(self.mesh)[:, f]])


def vertices(mesh) -> np.ndarray:
    """(2, n_vertices) triangle corners (``mesh.p`` also holds the mid-nodes of a ``MeshTri2``)."""
    return mesh.doflocs[:, : mesh.nvertices]


def _edge_midnodes(mesh) -> np.ndarray:
    """(2, n_facets) location of each facet's geometric mid-node (the chord midpoint if straight)."""
    if isinstance(mesh, MeshTri2):
        return mesh.doflocs[:, mesh.nvertices + np.arange(mesh.facets.shape[1])]
    return vertices(mesh)[:, mesh.facets].mean(axis=1)


def _gmsh():
    try:
        import gmsh
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SciflowError("meshing needs the 'gmsh' package: pip install 'sciflow[mesh]'") from exc
    return gmsh


def _generate(gmsh, order: int):
    """Mesh the synchronised 2D model (Frontal-Delaunay), lift to ``order``, return a skfem mesh."""
    gmsh.option.setNumber("Mesh.Algorithm", 6)
    gmsh.model.mesh.generate(2)
    if order == 2:
        gmsh.model.mesh.setOrder(2)
    return _mesh_from_gmsh(gmsh, order)


def _mesh_from_gmsh(gmsh, order: int):
    """Read the current gmsh model's triangles into (doflocs (2, n), t (3 or 6, n_elem))."""
    tags, coords, _ = gmsh.model.mesh.getNodes()
    xyz = coords.reshape(-1, 3)
    index = np.full(int(tags.max()) + 1, -1, dtype=np.int64)
    index[tags.astype(np.int64)] = np.arange(len(tags))
    etype = 2 if order == 1 else 9  # 3-node / 6-node triangle
    _, enodes = gmsh.model.mesh.getElementsByType(etype)
    t = index[enodes.astype(np.int64)].reshape(-1, 3 * order).T
    if (t < 0).any():
        raise SciflowError("gmsh returned triangles referring to unknown nodes")
    # Keep only the nodes used by triangles (drops the CAD's unused points).
    used = np.unique(t)
    remap = np.full(len(tags), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    p = np.ascontiguousarray(xyz[used, :2].T)
    t = remap[t]
    # Counter-clockwise orientation (positive Jacobian at the vertices).
    a, b, c = p[:, t[0]], p[:, t[1]], p[:, t[2]]
    cw = ((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])) < 0
    if cw.any():
        t[:, cw] = t[[0, 2, 1] + ([5, 4, 3] if order == 2 else [])][:, cw]
    t = np.ascontiguousarray(t, dtype=np.int32)
    if order == 1:
        return MeshTri1(p, t)
    # gmsh triangle6 node order (v0, v1, v2, m01, m12, m20) equals skfem's P2 edge order.
    return MeshTri2(p, t)


def classify_boundary(mesh, predicates: dict[str, Callable[[np.ndarray], np.ndarray]]) -> dict[str, np.ndarray]:
    """Split ``mesh.boundary_facets()`` by predicates on the facet mid-node (2, n) → bool (n,).

    The first predicate that holds wins; every boundary facet must be claimed by one.
    """
    bf = mesh.boundary_facets()
    mid = _edge_midnodes(mesh)[:, bf]
    free = np.ones(bf.size, dtype=bool)
    out = {}
    for name, pred in predicates.items():
        sel = free & np.asarray(pred(mid), dtype=bool)
        out[name] = bf[sel]
        free &= ~sel
    if free.any():
        raise SciflowError(f"{int(free.sum())} boundary facets match no boundary in {sorted(predicates)}")
    return out


def dfg_channel_mesh(n_cyl: int = 64, h_max: float = 0.04, order: int = 2, grow: float = 0.15) -> GmshMesh:
    """DFG channel mesh: cells of size ``π D / n_cyl`` on the cylinder, growing linearly to ``h_max``.

    The cylinder circle is built from four arcs whose end points include (0.15, 0.2) and
    (0.25, 0.2), the pressure probe points of the benchmark, so those are mesh vertices.
    ``grow`` is the distance from the cylinder over which the size reaches ``h_max``.
    Boundaries: ``inlet`` (x=0), ``outlet`` (x=2.2), ``wall`` (y=0, 0.41), ``cylinder``.
    """
    gmsh = _gmsh()
    xc, yc = DFG_CENTER
    r = DFG_DIAMETER / 2
    h_cyl = np.pi * DFG_DIAMETER / n_cyl
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("dfg")
        geo = gmsh.model.geo
        corners = [geo.addPoint(x, y, 0, h_max) for x, y in [(0, 0), (DFG_LENGTH, 0), (DFG_LENGTH, DFG_HEIGHT), (0, DFG_HEIGHT)]]
        outer = [geo.addLine(corners[i], corners[(i + 1) % 4]) for i in range(4)]
        c = geo.addPoint(xc, yc, 0, h_cyl)
        ring = [geo.addPoint(xc + r * np.cos(a), yc + r * np.sin(a), 0, h_cyl) for a in np.arange(4) * np.pi / 2]
        arcs = [geo.addCircleArc(ring[i], c, ring[(i + 1) % 4]) for i in range(4)]
        loop_out = geo.addCurveLoop(outer)
        loop_cyl = geo.addCurveLoop(arcs)
        geo.addPlaneSurface([loop_out, loop_cyl])
        geo.synchronize()
        f_dist = gmsh.model.mesh.field.add("Distance")
        gmsh.model.mesh.field.setNumbers(f_dist, "CurvesList", arcs)
        gmsh.model.mesh.field.setNumber(f_dist, "Sampling", 4 * n_cyl)
        f_thr = gmsh.model.mesh.field.add("Threshold")
        gmsh.model.mesh.field.setNumber(f_thr, "InField", f_dist)
        gmsh.model.mesh.field.setNumber(f_thr, "SizeMin", h_cyl)
        gmsh.model.mesh.field.setNumber(f_thr, "SizeMax", h_max)
        gmsh.model.mesh.field.setNumber(f_thr, "DistMin", 0.0)
        gmsh.model.mesh.field.setNumber(f_thr, "DistMax", grow)
        gmsh.model.mesh.field.setAsBackgroundMesh(f_thr)
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        mesh = _generate(gmsh, order)
    finally:
        gmsh.finalize()
    tol = 1e-9
    bnd = classify_boundary(
        mesh,
        {
            "inlet": lambda x: np.abs(x[0]) < tol,
            "outlet": lambda x: np.abs(x[0] - DFG_LENGTH) < tol,
            "wall": lambda x: (np.abs(x[1]) < tol) | (np.abs(x[1] - DFG_HEIGHT) < tol),
            "cylinder": lambda x: np.hypot(x[0] - xc, x[1] - yc) < r + 0.5 * h_cyl,
        },
    )
    return GmshMesh(mesh, bnd, order)


def sinusoidal_channel_mesh(
    R0: float = 0.05, A: float = 0.005, N: int = 6, L: float = 1.0, h: float = 0.01, order: int = 2, n_wall: int | None = None,
    periodic: bool = False,
) -> GmshMesh:
    """Channel ``0 ≤ x ≤ L``, ``|y| ≤ R(x) = R0 + A sin(2π N x / L)``, uniform cell size ``h``.

    ``periodic``: the outlet's nodes are the inlet's translated by L (for periodic conditions).

    Each wall is a B-spline through ``n_wall`` points (default 40 per wavelength) of the exact
    curve; with ``order=2`` the mid-nodes are placed on that spline. Boundaries:
    ``inlet`` (x=0), ``outlet`` (x=L), ``wall`` (both sinusoidal walls).
    """
    gmsh = _gmsh()
    n_wall = n_wall or 40 * N + 1
    xs = np.linspace(0.0, L, n_wall)
    R = R0 + A * np.sin(2 * np.pi * N * xs / L)
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("sinusoidal_channel")
        geo = gmsh.model.geo
        top = [geo.addPoint(x, y, 0, h) for x, y in zip(xs, R)]
        bot = [geo.addPoint(x, -y, 0, h) for x, y in zip(xs, R)]
        c_bot = geo.addSpline(bot)
        c_out = geo.addLine(bot[-1], top[-1])
        c_top = geo.addSpline(top[::-1])
        c_in = geo.addLine(top[0], bot[0])
        geo.addPlaneSurface([geo.addCurveLoop([c_bot, c_out, c_top, c_in])])
        geo.synchronize()
        if periodic:
            gmsh.model.mesh.setPeriodic(1, [c_out], [c_in], [1, 0, 0, L, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)
        gmsh.option.setNumber("Mesh.MeshSizeMin", h)
        mesh = _generate(gmsh, order)
    finally:
        gmsh.finalize()
    tol = 1e-9
    bnd = classify_boundary(
        mesh,
        {
            "inlet": lambda x: np.abs(x[0]) < tol,
            "outlet": lambda x: np.abs(x[0] - L) < tol,
            "wall": lambda x: np.ones(x.shape[1], dtype=bool),
        },
    )
    return GmshMesh(mesh, bnd, order)
