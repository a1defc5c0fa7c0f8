"""Steady incompressible 2D Navier-Stokes by Taylor-Hood finite elements (scikit-fem).

Generic API (used by the cavity/channel/Kovasznay cases in ``fem_cases.py`` and by
other solvers such as the DFG cylinder benchmark; this module imports none of them, the
cases and their dataset recipes live one layer up and register when ``sciflow.data.recipes``
loads its recipe modules)::

    from sciflow.cfd.fem import solve_steady_ns
    sol = solve_steady_ns(mesh, nu=1e-2, dirichlet={"lid": (1.0, 0.0), "walls": (0.0, 0.0)})
    u, v, p = sol.evaluate(points)          # points: (2, n) → three arrays (n,)

Equations (nondimensional, on a domain Ω ⊂ R², boundary Γ = Γ_D ∪ Γ_N)::

    (u·∇)u + ∇p − ν ∇²u = f,   ∇·u = 0   in Ω,
    u = g on Γ_D,   ν ∂u/∂n − p n = 0 on Γ_N  ("do-nothing" outflow, natural).

Weak form (Taylor & Hood 1973 P2/P1 element; the steady Navier-Stokes weak form and its
Newton linearisation as in Elman, Silvester & Wathen 2014, "Finite Elements and Fast
Iterative Solvers", ch. 8): find u_h ∈ [P2]², p_h ∈ P1 with u_h = g_h (the P2 interpolant
of g) on Γ_D and, for all test functions (v, q) vanishing on Γ_D,

    ν (∇u_h, ∇v) + ((u_h·∇)u_h, v) − (p_h, ∇·v) = (f, v),      −(q, ∇·u_h) = 0.

Newton's method: with the increment (δu, δp) the Jacobian block of the convection is
c(w; δu, v) = ((w·∇)δu, v) + ((δu·∇)w, v); since c(w; w, v) = 2((w·∇)w, v), the
convection residual is half the Jacobian applied to the iterate (one assembly per step).
The first iterate is the Stokes solution; a sequence of viscosities (Reynolds
continuation) reuses each converged solution as the next initial guess. Linear systems
are solved by a sparse direct LU (SciPy SuperLU).

Pressure: if every boundary facet carries velocity Dirichlet data, p is defined up to a
constant; one pressure dof is pinned to 0 and the result is shifted to zero mean
(∫_Ω p dx = 0). With a natural (outflow) boundary, p is unique and left untouched.

Boundary selection trap: a coordinate predicate such as ``x[0] < 0.5`` also matches
interior facets, and Dirichlet rows on interior dofs make the system singular; every
selection here is therefore intersected with the boundary facets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from skfem import Basis, BilinearForm, ElementTriP1, ElementTriP2, ElementVector, Functional, LinearForm, asm
from skfem.helpers import ddot, div, dot, grad, mul
from tqdm.auto import tqdm

from sciflow.errors import SciflowError

__all__ = [
    "FEMSolution",
    "solve_steady_ns",
    "taylor_hood_bases",
    "boundary_facets",
    "locate_points",
    "probe_matrix",
]

#: A boundary selection: a name in ``mesh.boundaries``, a predicate on facet midpoints
#: ``(2, n_facets) -> bool (n_facets,)`` (restricted to boundary facets), or facet indices.
FacetSelection = "str | Callable[[np.ndarray], np.ndarray] | np.ndarray"
#: A velocity datum: constants ``(g_x, g_y)`` or ``g(x) -> (2, n)`` for points ``x`` of shape (2, n).
VelocityDatum = "tuple[float, float] | Callable[[np.ndarray], np.ndarray]"


# --------------------------------------------------------------------------- forms
@BilinearForm
def _viscous(u, v, w):
    """(∇u, ∇v) = Σ_ij ∂_j u_i ∂_j v_i (vector Laplacian, gradient form)."""
    return ddot(grad(u), grad(v))


@BilinearForm
def _divergence(u, q, w):
    """(q, ∇·u): rows pressure test functions, columns velocity dofs."""
    return div(u) * q


@BilinearForm
def _convection_jacobian(u, v, w):
    """c(w; u, v) = ((w·∇)u + (u·∇)w, v), the Newton linearisation of (w·∇)w."""
    return dot(mul(grad(u), w["w"]) + mul(grad(w["w"]), u), v)


@LinearForm
def _body_force(v, w):
    return dot(w["f"], v)


@LinearForm
def _unit(q, w):
    return q


@Functional
def _div_squared(w):
    return div(w["w"]) ** 2


# ------------------------------------------------------------------ mesh utilities
def taylor_hood_bases(mesh, intorder: int = 4) -> tuple[Basis, Basis]:
    """Velocity basis [P2]² and pressure basis P1 on ``mesh`` (MeshTri or curved MeshTri2)."""
    ub = Basis(mesh, ElementVector(ElementTriP2()), intorder=intorder)
    pb = ub.with_element(ElementTriP1())
    return ub, pb


def boundary_facets(mesh, selection) -> np.ndarray:
    """Indices of boundary facets selected by a name, a midpoint predicate or an index array.

    Predicates receive facet midpoints of shape (2, n_boundary_facets) and are evaluated on
    boundary facets only (interior facets satisfying the predicate are never returned).
    """
    bnd = mesh.boundary_facets()
    if isinstance(selection, str):
        named = getattr(mesh, "boundaries", None) or {}
        if selection not in named:
            raise SciflowError(f"mesh has no boundary named '{selection}'; known: {sorted(named)}")
        return np.intersect1d(np.asarray(named[selection]), bnd)
    if callable(selection):
        mid = mesh.p[:, mesh.facets[:, bnd]].mean(axis=1)
        keep = np.asarray(selection(mid), dtype=bool)
        if keep.shape != bnd.shape:
            raise SciflowError(f"boundary predicate returned shape {keep.shape}, expected {bnd.shape}")
        return bnd[keep]
    return np.intersect1d(np.asarray(selection, dtype=np.int64), bnd)


def _inverse_map(mapping, x: np.ndarray, tind: np.ndarray, iters: int = 25) -> np.ndarray:
    """Reference coordinates (2, n) of points x (2, n) in cells tind (n,) by Newton's method on
    the (isoparametric) map, without clipping, so points just outside a curved cell converge
    too; cells far from the point may give NaN or large values (rejected by the caller)."""
    X = np.full((2, x.shape[1], 1), 1.0 / 3.0)
    with np.errstate(all="ignore"):
        for _ in range(iters):
            dX = np.einsum("ijkl,jkl->ikl", mapping.invDF(X, tind), x[:, :, None] - mapping.F(X, tind))
            X = X + dX
            if not np.any(np.abs(dX) > 1e-14):
                break
    return X[:, :, 0]


def locate_points(mesh, mapping, points: np.ndarray, candidates: int = 8,
                  outside_tol: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Element index (n,) and reference coordinates (2, n) of physical points (2, n).

    Robust for points on the boundary or on element edges: the ``candidates`` elements with
    the nearest centroids are ranked by their smallest barycentric coordinate with respect to
    the straight-sided triangle of their vertices; for curved (isoparametric) meshes the
    inverse map is then evaluated on the ranked candidates in turn until the point lies in
    one. Reference coordinates are clipped into the reference triangle. Points farther than
    ``outside_tol`` (barycentric units) outside the mesh raise ``SciflowError``; the default
    admits points on an exact curved boundary that its P2 (isoparametric) approximation
    misses by O(h³).
    """
    from scipy.spatial import cKDTree

    points = np.atleast_2d(np.asarray(points, dtype=float))
    if not hasattr(mesh, "_sciflow_centroid_tree"):
        mesh._sciflow_centroid_tree = cKDTree(mesh.p[:, mesh.t[:3]].mean(axis=1).T)
    cells, ref, bary_min = _locate(mesh, mapping, points, candidates, outside_tol)
    k = candidates
    while np.any(bary_min < -outside_tol) and k < mesh.t.shape[1]:
        # on graded meshes the containing cell of a point near a wall can be stretched enough
        # that k nearer centroids belong to other cells: retry those points with more candidates
        k *= 8
        bad = np.flatnonzero(bary_min < -outside_tol)
        c, r, b = _locate(mesh, mapping, points[:, bad], k, outside_tol)
        cells[bad], ref[:, bad], bary_min[bad] = c, r, b
    if np.any(bary_min < -outside_tol):
        bad = points[:, np.argmin(bary_min)]
        raise SciflowError(f"point ({bad[0]:.6g}, {bad[1]:.6g}) lies outside the mesh")
    ref = np.clip(ref, 0.0, 1.0)
    over = ref.sum(axis=0) > 1.0
    ref[:, over] /= ref[:, over].sum(axis=0)
    return cells, ref


def _locate(mesh, mapping, points: np.ndarray, candidates: int,
            outside_tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best of the ``candidates`` cells with nearest centroids for each point (2, n): cell (n,),
    unclipped reference coordinates (2, n) and the smallest barycentric coordinate (n,)."""
    n = points.shape[1]
    k = min(candidates, mesh.t.shape[1])
    _, cand = mesh._sciflow_centroid_tree.query(points.T, k)
    cand = cand.reshape(n, k)
    v0, v1, v2 = (mesh.p[:, mesh.t[i, cand]] for i in range(3))  # each (2, n, k)
    e1, e2, d = v1 - v0, v2 - v0, points[:, :, None] - v0
    det = e1[0] * e2[1] - e1[1] * e2[0]
    lam1 = (d[0] * e2[1] - d[1] * e2[0]) / det
    lam2 = (e1[0] * d[1] - e1[1] * d[0]) / det
    score = np.minimum(np.minimum(lam1, lam2), 1.0 - lam1 - lam2)  # (n, k)
    order = np.argsort(-score, axis=1)
    rows = np.arange(n)
    cells = cand[rows, order[:, 0]]
    ref = np.vstack([lam1[rows, order[:, 0]], lam2[rows, order[:, 0]]])
    bary_min = score[rows, order[:, 0]]
    if type(mapping).__name__ != "MappingAffine":  # curved cells: true inverse map, ranked tries
        bary_min = np.full(n, -np.inf)
        for j in range(k):
            idx = np.flatnonzero(bary_min < -outside_tol)
            if idx.size == 0:
                break
            t = cand[idx, order[idx, j]]
            r = _inverse_map(mapping, points[:, idx], t)
            with np.errstate(invalid="ignore"):
                bm = np.nan_to_num(np.minimum(np.minimum(r[0], r[1]), 1.0 - r[0] - r[1]), nan=-np.inf)
            better = bm > bary_min[idx]
            bary_min[idx[better]], cells[idx[better]], ref[:, idx[better]] = bm[better], t[better], r[:, better]
    return cells, ref, bary_min


def probe_matrix(basis: Basis, points: np.ndarray) -> sp.csr_matrix:
    """Sparse (n_points, basis.N) matrix P with (P @ y)[i] = y_h(points[:, i]), scalar basis."""
    cells, ref = locate_points(basis.mesh, basis.mapping, points)
    n = points.shape[1]
    phis = np.array([np.asarray(basis.elem.gbasis(basis.mapping, ref[:, :, None], k, tind=cells)[0])[:, 0]
                     for k in range(basis.Nbfun)])
    rows = np.tile(np.arange(n), basis.Nbfun)
    cols = basis.element_dofs[:, cells].ravel()
    return sp.coo_matrix((phis.ravel(), (rows, cols)), shape=(n, basis.N)).tocsr()


# ------------------------------------------------------------------------ solution
@dataclass
class FEMSolution:
    """A converged Taylor-Hood solution.

    Attributes: ``velocity_basis`` ([P2]², N_u dofs), ``pressure_basis`` (P1, N_p dofs),
    ``u`` (N_u,) velocity dof vector (components interleaved as scikit-fem orders them;
    ``velocity_basis.split_indices()`` gives the x and y parts), ``p`` (N_p,),
    ``nu`` the viscosity of the last solve, ``newton_iterations`` per continuation step,
    ``residuals`` the Newton residual history (∞-norm over free dofs) and ``wall_time_s``.
    """

    mesh: object
    velocity_basis: Basis
    pressure_basis: Basis
    u: np.ndarray
    p: np.ndarray
    nu: float
    newton_iterations: list[int] = field(default_factory=list)
    residuals: list[float] = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def n_dofs(self) -> int:
        return self.u.size + self.p.size

    def velocity_components(self) -> tuple[np.ndarray, np.ndarray]:
        """Scalar P2 dof vectors (u_x, u_y), each (N_u/2,), for ``scalar_velocity_basis``."""
        ix, iy = self.velocity_basis.split_indices()
        return self.u[ix], self.u[iy]

    @cached_property
    def scalar_velocity_basis(self) -> Basis:
        """Scalar P2 basis of one velocity component (built once)."""
        return self.velocity_basis.split_bases()[0]

    def evaluate(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(u, v, p) at physical points of shape (2, n); each returned array has shape (n,)."""
        points = np.asarray(points, dtype=float)
        pu = probe_matrix(self.scalar_velocity_basis, points)
        ux, uy = self.velocity_components()
        pp = probe_matrix(self.pressure_basis, points)
        return pu @ ux, pu @ uy, pp @ self.p

    def divergence_l2(self) -> float:
        """‖∇·u_h‖_{L²(Ω)} (Taylor-Hood satisfies ∇·u_h = 0 only weakly, against P1)."""
        return float(np.sqrt(_div_squared.assemble(self.velocity_basis, w=self.velocity_basis.interpolate(self.u))))

    def weak_divergence(self) -> np.ndarray:
        """(q_i, ∇·u_h) for every P1 basis function q_i, shape (N_p,); zero up to round-off."""
        return asm(_divergence, self.velocity_basis, self.pressure_basis) @ self.u


# -------------------------------------------------------------------------- solver
def _dirichlet_data(ub: Basis, mesh, dirichlet: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """Dirichlet dof indices and their values; later entries override earlier ones at shared dofs."""
    values: dict[int, float] = {}
    for selection, datum in dirichlet.items():
        facets = boundary_facets(mesh, selection)
        if facets.size == 0:
            raise SciflowError(f"Dirichlet boundary {selection!r} selects no boundary facet")
        dofs = ub.get_dofs(facets=facets)
        for comp, name in enumerate(("u^1", "u^2")):
            idx = dofs.all([name])
            if callable(datum):
                g = np.asarray(datum(ub.doflocs[:, idx]), dtype=float)
                if g.shape != (2, idx.size):
                    raise SciflowError(f"Dirichlet function for {selection!r} returned shape {g.shape}, "
                                       f"expected (2, {idx.size})")
                vals = g[comp]
            else:
                vals = np.full(idx.size, float(datum[comp]))
            values.update(zip(idx.tolist(), vals.tolist()))
    idx = np.fromiter(values.keys(), dtype=np.int64)
    order = np.argsort(idx)
    return idx[order], np.fromiter(values.values(), dtype=float)[order]


def _solve_free(A: sp.spmatrix, rhs: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Solve A[free, free] x_free = rhs[free] by sparse LU; returns x_free."""
    Aff = A[free][:, free].tocsc()
    # COLAMD with SuperLU's partial pivoting: minimum degree on A + Aᵀ can fill less at
    # low Re, but its fill exploded 20-50× at Re ≥ 400 once pivoting left the diagonal.
    return spla.splu(Aff, permc_spec="COLAMD").solve(rhs[free])


def solve_steady_ns(
    mesh,
    nu: float,
    dirichlet: Mapping,
    *,
    forcing: Callable[[np.ndarray], np.ndarray] | None = None,
    continuation: Sequence[float] = (),
    initial: FEMSolution | None = None,
    pin_pressure: bool | None = None,
    tol: float = 1e-10,
    residual_tol: float = 1e-13,
    max_iter: int = 30,
    intorder: int = 4,
    progress: bool = False,
    desc: str = "steady NS (Newton)",
) -> FEMSolution:
    """Solve the steady incompressible Navier-Stokes equations by Newton's method.

    Args:
        mesh: a scikit-fem triangle mesh (``MeshTri``, or ``MeshTri2`` for curved edges).
        nu: kinematic viscosity of the requested solution (1/Re in nondimensional form).
        dirichlet: ordered mapping {boundary selection → velocity datum}; a selection is a
            name in ``mesh.boundaries``, a predicate on facet midpoints (2, n) → (n,) bool,
            or facet indices; a datum is constants ``(g_x, g_y)`` or ``g(x) -> (2, n)``.
            Where two selections share a dof (a corner), the later entry wins.
            Boundary not listed is a do-nothing outflow (ν ∂u/∂n − p n = 0).
        forcing: body force ``f(x) -> (2, ...)`` evaluated at quadrature points ``x`` (2, ...).
        continuation: viscosities solved in turn before ``nu`` (e.g. 1/100, 1/400 for Re 1000).
        initial: initial guess (same mesh); default: the Stokes solution with ν = first viscosity.
        pin_pressure: pin one pressure dof and shift p to zero mean; default: True exactly
            when every boundary facet carries Dirichlet data.
        tol: convergence when ‖δu‖_∞ ≤ tol · max(1, ‖u‖_∞) (Newton is quadratic, so the
            remaining error is ~‖δu‖²).
        residual_tol: convergence, without a further step, when the nonlinear residual over
            the free dofs (a weak residual: entries scale like h² × pointwise) satisfies
            ‖R‖_∞ ≤ residual_tol · max(1, ‖u‖_∞); a step of 1e-7 is followed by ~1e-17.
        max_iter: Newton iterations allowed per viscosity before ``SciflowError``.
        progress: show a tqdm bar over Newton steps with the current Re and residual.

    Returns:
        ``FEMSolution`` with dof vectors u (N_u,), p (N_p,), the bases and iteration counts.
    """
    t0 = time.perf_counter()
    ub, pb = taylor_hood_bases(mesh, intorder)
    nu_, np_ = ub.N, pb.N
    K = asm(_viscous, ub)
    B = asm(_divergence, ub, pb)
    F = np.zeros(nu_) if forcing is None else asm(_body_force, ub, f=_at_quadrature_points(ub, forcing))
    dofs_d, vals_d = _dirichlet_data(ub, mesh, dirichlet)
    if pin_pressure is None:
        covered = np.concatenate([boundary_facets(mesh, s) for s in dirichlet])
        pin_pressure = np.setdiff1d(mesh.boundary_facets(), covered).size == 0
    fixed = dofs_d if not pin_pressure else np.concatenate([dofs_d, [nu_ + 0]])
    free = np.setdiff1d(np.arange(nu_ + np_), fixed)

    viscosities = [float(v) for v in continuation] + [float(nu)]
    x = np.zeros(nu_ + np_)
    if initial is not None:
        x[:nu_], x[nu_:] = initial.u, initial.p
    else:  # Stokes solution as the initial iterate
        x[dofs_d] = vals_d
        S = sp.bmat([[viscosities[0] * K, -B.T], [-B, None]], format="csr")
        rhs = np.concatenate([F, np.zeros(np_)]) - S @ x
        x[free] += _solve_free(S, rhs, free)
    x[dofs_d] = vals_d

    iterations, history = [], []
    bar = tqdm(total=None, desc=desc, disable=not progress, unit="newton")
    try:
        for nu_k in viscosities:
            for it in range(1, max_iter + 1):
                C = asm(_convection_jacobian, ub, w=ub.interpolate(x[:nu_]))
                R = np.concatenate([nu_k * (K @ x[:nu_]) + 0.5 * (C @ x[:nu_]) - B.T @ x[nu_:] - F, -(B @ x[:nu_])])
                res = float(np.abs(R[free]).max())
                history.append(res)
                bar.set_postfix(Re=f"{1.0 / nu_k:.4g}", it=it, residual=f"{res:.2e}")
                if res <= residual_tol * max(1.0, float(np.abs(x[:nu_]).max())):
                    it -= 1  # the current iterate is converged: no step taken
                    break
                J = sp.bmat([[nu_k * K + C, -B.T], [-B, None]], format="csr")
                dx = _solve_free(J, -R, free)
                x[free] += dx
                step = float(np.abs(dx[: np.searchsorted(free, nu_)]).max(initial=0.0))
                bar.update(1)
                if not np.all(np.isfinite(x)):
                    raise SciflowError(f"Newton diverged (non-finite iterate) at Re={1 / nu_k:.4g}, iteration {it}")
                if step <= tol * max(1.0, float(np.abs(x[:nu_]).max())):
                    break
            else:
                raise SciflowError(f"Newton did not converge at Re={1 / nu_k:.4g} within {max_iter} iterations "
                                   f"(last step {step:.2e}); add continuation steps")
            iterations.append(it)
    finally:
        bar.close()

    u, p = x[:nu_].copy(), x[nu_:].copy()
    if pin_pressure:
        w = asm(_unit, pb)
        p -= (w @ p) / w.sum()
    return FEMSolution(mesh, ub, pb, u, p, float(nu), iterations, history, time.perf_counter() - t0)


def _at_quadrature_points(basis: Basis, fn: Callable[[np.ndarray], np.ndarray]):
    """Evaluate ``fn`` at the quadrature points of ``basis``: returns array (2, n_elems, n_qp)."""
    return np.asarray(fn(basis.global_coordinates().value), dtype=float)

