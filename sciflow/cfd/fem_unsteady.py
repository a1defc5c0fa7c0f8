"""Taylor-Hood P2/P1 Navier-Stokes operators on (curved) triangle meshes: Newton and BDF2.

Unknowns are stacked as ``x = [u_x (N2), u_y (N2), p (N1)]`` with scalar P2 velocity
components and P1 pressure on the same :class:`skfem.MeshTri1`/``MeshTri2`` mesh (the
isoparametric P2 map follows curved boundaries). With the viscous term in gradient form,
a boundary without Dirichlet data carries the natural "do-nothing" condition
``ν ∂u/∂n − p n = 0``.

Semi-discrete weak form (Girault & Raviart 1986; John 2016, *Finite Element Methods for
Incompressible Flow Problems*):

    (∂_t u, v) + ν(∇u, ∇v) + ((u·∇)u, v) − (p, ∇·v) = 0,      −(q, ∇·u) = 0.

Steady problems are solved by Newton's method (Jacobian of the convection
``((w·∇)δu + (δu·∇)w, v)``). Unsteady problems use BDF2 with the convecting velocity
extrapolated linearly, ``u* = 2uⁿ − uⁿ⁻¹`` (second order, one linear solve per step;
the first step is BDF1 with ``u* = u⁰``):

    (3uⁿ⁺¹ − 4uⁿ + uⁿ⁻¹)/(2Δt) + (u*·∇)uⁿ⁺¹ − ν∆uⁿ⁺¹ + ∇pⁿ⁺¹ = 0,   ∇·uⁿ⁺¹ = 0.

The matrix of each step changes only through u*; it is solved by GMRES preconditioned
with the sparse LU of a recent step's matrix, refactorised when GMRES needs more than a
dozen iterations (the result is the step's solution to the GMRES tolerance, 1e-10).

``probe(basis, points)`` evaluates fields at arbitrary points of a curved mesh (the
inverse isoparametric map by Newton's method).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from skfem import Basis, BilinearForm, ElementTriP1, ElementTriP2, asm
from skfem.helpers import dot, grad

from sciflow.errors import SciflowError


def _single_threaded_blas():
    """Vector operations here are short; multi-threaded BLAS only adds contention."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


@BilinearForm
def _laplace(u, v, w):
    return dot(grad(u), grad(v))


@BilinearForm
def _mass(u, v, w):
    return u * v


@BilinearForm
def _dx(u, q, w):
    """(q, ∂u/∂x): rows P1 pressure, columns scalar P2 velocity."""
    return grad(u)[0] * q


@BilinearForm
def _dy(u, q, w):
    return grad(u)[1] * q


@BilinearForm
def _advection(u, v, w):
    """((w·∇)u, v) for one scalar velocity component."""
    return (w["wx"] * grad(u)[0] + w["wy"] * grad(u)[1]) * v


@BilinearForm
def _weighted_mass(u, v, w):
    return w["c"] * u * v


def factorize(A: sp.spmatrix):
    """Sparse LU of a Taylor-Hood saddle-point matrix (SuperLU).

    COLAMD with a relaxed diagonal pivot threshold (0.1, symmetric mode) fills about a third
    less than strict partial pivoting here; a minimum-degree order on AᵀA+A with strict
    pivoting can fill 20× more on channel meshes and must be avoided.
    """
    return spla.splu(sp.csc_matrix(A), permc_spec="COLAMD", diag_pivot_thresh=0.1, options={"SymmetricMode": True})


@dataclass
class TaylorHood:
    """Spaces and constant operators of P2/P1 Taylor-Hood on ``mesh``.

    ``sb``: scalar P2 basis (N2 dofs); ``pb``: P1 basis (N1 dofs). ``L``, ``M``: (N2, N2)
    stiffness and mass; ``Bx``, ``By``: (N1, N2) with (Bx)_ij = (q_i, ∂φ_j/∂x).
    """

    mesh: object
    sb: Basis
    pb: Basis
    L: sp.csr_matrix
    M: sp.csr_matrix
    Bx: sp.csr_matrix
    By: sp.csr_matrix

    @classmethod
    def on(cls, mesh, intorder: int = 5) -> "TaylorHood":
        sb = Basis(mesh, ElementTriP2(), intorder=intorder)
        pb = sb.with_element(ElementTriP1())
        return cls(mesh, sb, pb, asm(_laplace, sb).tocsr(), asm(_mass, sb).tocsr(), asm(_dx, sb, pb).tocsr(), asm(_dy, sb, pb).tocsr())

    @property
    def n2(self) -> int:
        return self.sb.N

    @property
    def n_dofs(self) -> int:
        return 2 * self.sb.N + self.pb.N

    def split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(u_x (N2,), u_y (N2,), p (N1,)) views of a stacked vector."""
        n = self.sb.N
        return x[:n], x[n : 2 * n], x[2 * n :]

    def facet_dofs(self, facets: np.ndarray) -> np.ndarray:
        """Scalar P2 dofs (vertices and edge nodes) on the given boundary facets."""
        return self.sb.get_dofs(facets=np.asarray(facets)).all()

    def advection(self, ux: np.ndarray, uy: np.ndarray) -> sp.csr_matrix:
        """(N2, N2) matrix of ((w·∇)φ_j, φ_i) for the convecting field w = (ux, uy) (P2 dofs)."""
        return asm(_advection, self.sb, wx=self.sb.interpolate(ux), wy=self.sb.interpolate(uy)).tocsr()

    def system(self, diag: sp.spmatrix) -> sp.csr_matrix:
        """Saddle-point matrix [[diag, 0, −Bxᵀ], [0, diag, −Byᵀ], [−Bx, −By, 0]]."""
        return sp.bmat([[diag, None, -self.Bx.T], [None, diag, -self.By.T], [-self.Bx, -self.By, None]], format="csr")

    def newton_jacobian(self, nu: float, ux: np.ndarray, uy: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Jacobian of the steady residual at w = (ux, uy), and the Picard matrix A(w) with R = A(w) x."""
        C = self.advection(ux, uy)
        picard = self.system(nu * self.L + C)
        gx, gy = self.sb.interpolate(ux).grad, self.sb.interpolate(uy).grad
        W = [[asm(_weighted_mass, self.sb, c=g[j]) for j in range(2)] for g in (gx, gy)]  # ∫ ∂_j w_i φ φ
        zero = sp.csr_matrix((self.pb.N, self.pb.N))
        extra = sp.bmat([[W[0][0], W[0][1], None], [W[1][0], W[1][1], None], [None, None, zero]], format="csr")
        return picard + extra, picard


def dirichlet_values(th: TaylorHood, data: list[tuple[np.ndarray, object]]) -> tuple[np.ndarray, np.ndarray]:
    """Stacked Dirichlet dof indices and values from ``[(facets, datum), ...]``.

    A datum is a constant pair ``(g_x, g_y)`` or ``g(x) -> (2, n)`` for P2 node locations
    ``x`` (2, n). Later entries override earlier ones at shared (corner) dofs.
    """
    vals: dict[int, float] = {}
    n = th.n2
    for facets, datum in data:
        if len(facets) == 0:
            raise SciflowError("a Dirichlet boundary selects no facet")
        idx = th.facet_dofs(facets)
        g = np.asarray(datum(th.sb.doflocs[:, idx]) if callable(datum) else np.outer(datum, np.ones(idx.size)), dtype=float)
        vals.update(zip(idx.tolist(), g[0].tolist()))
        vals.update(zip((idx + n).tolist(), g[1].tolist()))
    dofs = np.fromiter(vals.keys(), dtype=np.int64)
    order = np.argsort(dofs)
    return dofs[order], np.fromiter(vals.values(), dtype=float)[order]


def solve_newton(
    th: TaylorHood, nu: float, dofs: np.ndarray, values: np.ndarray, x0: np.ndarray | None = None, tol: float = 1e-10,
    max_iter: int = 25, rhs: np.ndarray | None = None, tie: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, int]:
    """Steady NS by Newton from ``x0`` (default: the Stokes solution). Returns (x (n_dofs,), iterations).

    ``rhs`` (n_dofs,): load vector, e.g. prescribed boundary tractions or a body force (default zero).
    ``tie`` = (slaves, masters): periodic constraints x[slaves] = x[masters] (masters free); the
    system is solved on that constrained space, x = x_D + T z, with the Galerkin condition Tᵀ R = 0.
    Converged when the velocity update satisfies ‖δu‖_∞ ≤ tol·max(1, ‖u‖_∞).
    """
    n = th.n_dofs
    slaves = np.zeros(0, dtype=np.int64) if tie is None else np.asarray(tie[0], dtype=np.int64)
    free = np.setdiff1d(np.arange(n), np.concatenate([np.asarray(dofs, dtype=np.int64), slaves]))
    col = np.full(n, -1)
    col[free] = np.arange(free.size)
    rows, cols = list(free), list(range(free.size))
    if tie is not None:
        masters = np.asarray(tie[1], dtype=np.int64)
        if np.any(col[masters] < 0):
            raise SciflowError("solve_newton: a tied dof's master is not free")
        rows += slaves.tolist()
        cols += col[masters].tolist()
    T = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, free.size))
    x = np.zeros(n) if x0 is None else x0.copy()
    x[dofs] = values
    f = np.zeros(n) if rhs is None else rhs
    if x0 is None:
        S = th.system(nu * th.L)
        x += T @ factorize((T.T @ S @ T).tocsc()).solve(T.T @ (f - S @ x))
    nvel = 2 * th.n2
    for it in range(1, max_iter + 1):
        J, picard = th.newton_jacobian(nu, *th.split(x)[:2])
        R = picard @ x - f
        dx = T @ factorize((T.T @ J @ T).tocsc()).solve(-(T.T @ R))
        x += dx
        if not np.all(np.isfinite(x)):
            raise SciflowError(f"Newton diverged at iteration {it} (nu={nu:g})")
        step = np.abs(dx[:nvel]).max(initial=0.0)
        if step <= tol * max(1.0, np.abs(x[:nvel]).max()):
            return x, it
    raise SciflowError(f"Newton did not converge within {max_iter} iterations (nu={nu:g}, last step {step:.2e})")


def steady_residual(th: TaylorHood, nu: float, x: np.ndarray) -> np.ndarray:
    """Full (unconstrained) steady residual A(u) x, shape (n_dofs,); zero on free dofs at a solution."""
    ux, uy, _ = th.split(x)
    return th.system(nu * th.L + th.advection(ux, uy)) @ x


class BDF2Stepper:
    """Semi-implicit BDF2 (extrapolated convection) for u_t + (u·∇)u − ν∆u + ∇p = 0.

    ``step(x_new_dirichlet_values)`` advances ``self.x`` (n_dofs,) by ``dt`` and returns
    the full residual r (n_dofs,) of the step's linear system before boundary rows are
    removed: reaction forces on a Dirichlet boundary are −Σ r over its dofs.
    """

    def __init__(self, th: TaylorHood, nu: float, dt: float, dofs: np.ndarray, x0: np.ndarray, gmres_tol: float = 1e-10,
                 max_gmres: int = 40, refactor_after: int = 15):
        self.th, self.nu, self.dt, self.dofs = th, nu, dt, dofs
        self.free = np.setdiff1d(np.arange(th.n_dofs), dofs)
        self.x, self.x_old = x0.copy(), None
        self.gmres_tol, self.max_gmres, self.refactor_after = gmres_tol, max_gmres, refactor_after
        self._lu, self._lu_bdf2, self.factorizations, self.gmres_iterations = None, False, 0, []
        self.steps = 0

    def step(self, values: np.ndarray) -> np.ndarray:
        with _single_threaded_blas():
            return self._step(values)

    def _step(self, values: np.ndarray) -> np.ndarray:
        th, n2, dt = self.th, self.th.n2, self.dt
        bdf2 = self.x_old is not None
        if bdf2:
            a0, hist = 1.5 / dt, (2.0 * self.x - 0.5 * self.x_old) / dt  # (3u − 4uⁿ + uⁿ⁻¹)/(2Δt)
            star = 2.0 * self.x - self.x_old
        else:
            a0, hist, star = 1.0 / dt, self.x / dt, self.x
        A = th.system(a0 * th.M + self.nu * th.L + th.advection(star[:n2], star[n2 : 2 * n2]))
        rhs = np.zeros(th.n_dofs)
        rhs[:n2], rhs[n2 : 2 * n2] = th.M @ hist[:n2], th.M @ hist[n2 : 2 * n2]
        x = np.zeros(th.n_dofs)
        x[self.dofs] = values
        b = (rhs - A @ x)[self.free]
        Aff = A[self.free][:, self.free].tocsc()
        x[self.free] = self._solve(Aff, b, bdf2)
        r = A @ x - rhs
        self.x_old, self.x = self.x, x
        self.steps += 1
        return r

    def _solve(self, Aff: sp.csc_matrix, b: np.ndarray, bdf2: bool) -> np.ndarray:
        if self._lu is not None and bdf2 and self._lu_bdf2:
            y, its = preconditioned_gmres(Aff, b, self._lu.solve, self.gmres_tol, self.max_gmres)
            if y is not None:
                self.gmres_iterations.append(its)
                if its > self.refactor_after:  # preconditioner is getting stale: refresh it for the next step
                    self._refactor(Aff, bdf2)
                return y
        self._refactor(Aff, bdf2)
        self.gmres_iterations.append(0)
        return self._lu.solve(b)

    def _refactor(self, Aff, bdf2: bool) -> None:
        self._lu = factorize(Aff)
        self._lu_bdf2 = bdf2  # a BDF1 matrix is never reused to precondition BDF2 steps
        self.factorizations += 1


def preconditioned_gmres(A, b: np.ndarray, prec, rtol: float, max_iter: int) -> tuple[np.ndarray | None, int]:
    """Right-preconditioned GMRES without restart (Saad 2003, Alg. 9.5) for A y = b.

    ``prec(r)`` applies an approximate inverse (here a lagged LU). Returns (y, iterations)
    with ‖b − A y‖ ≤ rtol ‖b‖, or (None, max_iter) if that is not reached.
    """
    beta = np.linalg.norm(b)
    if beta == 0.0:
        return np.zeros_like(b), 0
    V = [b / beta]
    Z = []
    H = np.zeros((max_iter + 1, max_iter))
    for k in range(max_iter):
        Z.append(prec(V[k]))
        w = A @ Z[k]
        for i in range(k + 1):  # modified Gram-Schmidt
            H[i, k] = w @ V[i]
            w -= H[i, k] * V[i]
        H[k + 1, k] = np.linalg.norm(w)
        e1 = np.zeros(k + 2)
        e1[0] = beta
        c, *_ = np.linalg.lstsq(H[: k + 2, : k + 1], e1, rcond=None)
        res = np.linalg.norm(H[: k + 2, : k + 1] @ c - e1)
        if res <= rtol * beta or H[k + 1, k] == 0.0:
            return np.column_stack(Z) @ c, k + 1
        V.append(w / H[k + 1, k])
    return None, max_iter


def _newton_inverse(mapping, points: np.ndarray, cells: np.ndarray, X0: np.ndarray, iters: int = 30):
    """Reference coordinates X (2, n) with F_cell(X) = points (2, n), by unclipped Newton; and the final residual (n,)."""
    X = X0.copy()
    for _ in range(iters):
        F = mapping.F(X[:, :, None], tind=cells)[:, :, 0]
        r = points - F
        if np.abs(r).max() < 1e-14:
            break
        J = mapping.DF(X[:, :, None], tind=cells)[:, :, :, 0]  # (2, 2, n)
        det = J[0, 0] * J[1, 1] - J[0, 1] * J[1, 0]
        X = X + np.array([J[1, 1] * r[0] - J[0, 1] * r[1], -J[1, 0] * r[0] + J[0, 0] * r[1]]) / det
    return X, np.abs(points - mapping.F(X[:, :, None], tind=cells)[:, :, 0]).max(axis=0)


def locate(mesh, mapping, points: np.ndarray, candidates: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Cell (n,) and reference coordinates (2, n) of physical points (2, n) on a (curved) triangle mesh.

    The straight-sided triangle containing a point gives the first guess (a trapezoid-map
    search); points in the slivers between a chord and a curved edge, or whose curved cell
    differs, are tried against the ``candidates`` cells with the nearest centroids. Points
    more than 1e-8 (barycentric) outside every candidate raise ``SciflowError``.
    """
    from matplotlib.tri import Triangulation
    from scipy.spatial import cKDTree

    V = mesh.doflocs[:, : mesh.nvertices]
    tri = Triangulation(V[0], V[1], mesh.t[:3].T)
    cell = tri.get_trifinder()(points[0], points[1]).astype(np.int64)
    best_cell, best_X = np.zeros(points.shape[1], dtype=np.int64), np.zeros_like(points)
    best_min = np.full(points.shape[1], -np.inf)

    def consider(idx, cells):
        X, res = _newton_inverse(mapping, points[:, idx], cells, np.full((2, idx.size), 1 / 3))
        bmin = np.where(res < 1e-10, np.minimum(np.minimum(X[0], X[1]), 1 - X[0] - X[1]), -np.inf)
        better = bmin > best_min[idx]
        j = idx[better]
        best_min[j], best_cell[j], best_X[:, j] = bmin[better], cells[better], X[:, better]

    found = np.nonzero(cell >= 0)[0]
    if found.size:
        consider(found, cell[found])
    todo = np.nonzero(best_min < -1e-12)[0]
    if todo.size:
        tree = cKDTree(V[:, mesh.t[:3]].mean(axis=1).T)
        _, cand = tree.query(points[:, todo].T, min(candidates, mesh.t.shape[1]))
        for k in range(cand.shape[1]):
            consider(todo, cand[:, k])
    if np.any(best_min < -1e-8):
        bad = points[:, np.argmin(best_min)]
        raise SciflowError(f"point ({bad[0]:.6g}, {bad[1]:.6g}) lies outside the mesh")
    return best_cell, np.clip(best_X, 0.0, 1.0)


def probe(basis: Basis, points: np.ndarray) -> sp.csr_matrix:
    """Sparse (n_points, basis.N) matrix P with (P @ y)[i] = y_h(points[:, i]) for a scalar basis."""
    points = np.asarray(points, dtype=float)
    cells, X = locate(basis.mesh, basis.mapping, points)
    phis = np.array([np.asarray(basis.elem.gbasis(basis.mapping, X[:, :, None], k, tind=cells)[0])[:, 0] for k in range(basis.Nbfun)])
    rows = np.tile(np.arange(points.shape[1]), basis.Nbfun)
    return sp.coo_matrix((phis.ravel(), (rows, basis.element_dofs[:, cells].ravel())), shape=(points.shape[1], basis.N)).tocsr()
