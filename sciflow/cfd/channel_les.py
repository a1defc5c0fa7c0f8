"""Subgrid-scale models for the channel solver: Smagorinsky (van Driest), dynamic, WALE.

All models are eddy-viscosity models, ``τ_ij - δ_ij τ_kk/3 = -2 ν_t S_ij``, evaluated at the
cell centres of the staggered grid from the resolved velocity gradient ``g_ij = ∂u_i/∂x_j``
(x, z derivatives spectral; y derivatives second-order finite differences); the stress is
then added to the convective momentum flux and its divergence taken explicitly by the
solver (``ChannelSolver.nonlinear``). Grid filter width ``Δ = (Δx Δy Δz)^{1/3}`` with the
dealiased spacings ``Δx = 3 Lx / (2 Nx)``, ``Δz = 3 Lz / (2 Nz)`` and the local cell width Δy.

* Smagorinsky (1963): ``ν_t = (C_s Δ f)^2 |S|``, ``|S| = sqrt(2 S_ij S_ij)``, van Driest
  damping ``f = 1 - exp(-y+/A+)`` (A+ = 26), y+ from the instantaneous wall shear.
* Dynamic (Germano et al. 1991, eq. 9; least squares of Lilly 1992, eq. 10):
  ``C(y) = <L_ij M_ij>_xz / <M_ij M_ij>_xz`` clipped at 0, ``ν_t = C Δ² |S|``, with
  ``L_ij = \\widehat{u_i u_j} - û_i û_j`` and ``M_ij = 2Δ²(\\widehat{|S| S_ij} - α² |Ŝ| Ŝ_ij)``,
  the test filter a sharp cutoff at half the retained wavenumbers in x and z,
  ``α = Δ̂/Δ = 4^{1/3}``.
* WALE (Nicoud & Ducros 1999, eq. 13):
  ``ν_t = (C_w Δ)^2 (S^d_ij S^d_ij)^{3/2} / ((S_ij S_ij)^{5/2} + (S^d_ij S^d_ij)^{5/4})``,
  ``S^d_ij = ½(g_ik g_kj + g_jk g_ki) - ⅓ δ_ij g_kl g_lk``.
"""

from __future__ import annotations

import numpy as np
import torch


def strain_rate(g):
    """S_ij = ½(g_ij + g_ji) for a 3×3 nested list of tensors g[i][j]; returns the same layout."""
    return [[0.5 * (g[i][j] + g[j][i]) for j in range(3)] for i in range(3)]


def smagorinsky_nut(g, delta, cs: float, damping=1.0):
    """ν_t = (C_s Δ f)^2 |S|; g[i][j] tensors of equal shape, delta/damping broadcastable."""
    S = strain_rate(g)
    ss = sum(S[i][j] ** 2 for i in range(3) for j in range(3))
    return (cs * delta * damping) ** 2 * torch.sqrt(2.0 * ss)


def wale_nut(g, delta, cw: float):
    """WALE eddy viscosity (Nicoud & Ducros 1999, eq. 13); zero for pure shear."""
    S = strain_rate(g)
    g2 = [[sum(g[i][k] * g[k][j] for k in range(3)) for j in range(3)] for i in range(3)]
    tr = (g2[0][0] + g2[1][1] + g2[2][2]) / 3.0
    sd = [[0.5 * (g2[i][j] + g2[j][i]) - (tr if i == j else 0.0) for j in range(3)] for i in range(3)]
    ss = sum(S[i][j] ** 2 for i in range(3) for j in range(3))
    sdsd = sum(sd[i][j] ** 2 for i in range(3) for j in range(3))
    den = ss**2.5 + sdsd**1.25
    return (cw * delta) ** 2 * sdsd**1.5 / torch.clamp(den, min=torch.finfo(den.dtype).tiny)


def dynamic_coefficient(vel, g, delta, test_filter, alpha2: float):
    """Plane-wise Germano-Lilly coefficient C(y) = <L:M>/<M:M>, clipped at 0.

    vel: [u, v, w] tensors (Ny, Nx, Nz) at centres; g[i][j] gradients (same shape);
    delta: (Ny, 1, 1); test_filter(f) → f̂ for a stack (n, Nx, Nz) (x-z filter only).
    Returns C of shape (Ny, 1, 1).
    """
    S = strain_rate(g)
    ss = sum(S[i][j] ** 2 for i in range(3) for j in range(3))
    smag = torch.sqrt(2.0 * ss)
    pairs = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)]
    weight = [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]  # off-diagonal pairs count twice in L_ij M_ij
    ny = vel[0].shape[0]
    stack = torch.cat([vel[0], vel[1], vel[2]] + [vel[i] * vel[j] for i, j in pairs]
                      + [S[i][j] for i, j in pairs] + [smag * S[i][j] for i, j in pairs], 0)
    f = test_filter(stack)
    fv = [f[k * ny : (k + 1) * ny] for k in range(3)]
    fuu = [f[(3 + k) * ny : (4 + k) * ny] for k in range(6)]
    fS = [f[(9 + k) * ny : (10 + k) * ny] for k in range(6)]
    fsS = [f[(15 + k) * ny : (16 + k) * ny] for k in range(6)]
    smag_hat = torch.sqrt(2.0 * sum(w * s**2 for w, s in zip(weight, fS)))
    lm = torch.zeros(ny, 1, 1, dtype=stack.dtype, device=stack.device)
    mm = torch.zeros_like(lm)
    for k, (i, j) in enumerate(pairs):
        L = fuu[k] - fv[i] * fv[j]
        if i == j:  # deviatoric part of L (M is traceless)
            L = L - sum(fuu[m] - fv[m] * fv[m] for m in range(3)) / 3.0
        M = 2.0 * delta**2 * (fsS[k] - alpha2 * smag_hat * fS[k])
        lm += weight[k] * (L * M).mean((1, 2), keepdim=True)
        mm += weight[k] * (M * M).mean((1, 2), keepdim=True)
    c = torch.where(mm > 0, lm / torch.clamp(mm, min=torch.finfo(mm.dtype).tiny), torch.zeros_like(mm))
    return torch.clamp(c, min=0.0), smag


class SGSModel:
    """SGS stress of a ``ChannelSolver`` for model ``kind`` (smagorinsky | dynamic | wale)."""

    def __init__(self, solver, kind: str):
        s = solver
        self.s, self.kind = s, kind
        cfg = s.cfg
        dx, dz = 1.5 * cfg.lx / cfg.nx, 1.5 * cfg.lz / cfg.nz
        self.delta = (dx * s.dy_t * dz) ** (1.0 / 3.0)  # (Ny,1,1)
        yc = s.grid.yc
        # three-point non-uniform first derivative at centres, wall neighbours are wall values
        ym = np.r_[-1.0, yc[:-1]]
        yp = np.r_[yc[1:], 1.0]
        h1, h2 = yc - ym, yp - yc
        t = lambda a: torch.as_tensor(a, device=s.device, dtype=s.rdtype)[:, None, None]  # noqa: E731
        self.cm, self.c0, self.cp = t(-h2 / (h1 * (h1 + h2))), t((h2 - h1) / (h1 * h2)), t(h1 / (h2 * (h1 + h2)))
        self.wall_dist = t(1.0 - np.abs(yc))
        self.alpha2 = 4.0 ** (2.0 / 3.0)
        kx, kz = np.abs(s.kx_int), s.kz_int
        kmx, kmz = kx.max() / 2.0, kz.max() / 2.0
        keep = (kx[:, None] <= kmx) & (kz[None, :] <= kmz)
        self.test_mask = torch.as_tensor(keep[None], device=s.device)
        self.last_nut = None
        self.last_c = None

    def ddy(self, f):
        """∂f/∂y at centres for a centre field f (Ny, Nx, Nz) with f = 0 on the walls."""
        z = torch.zeros_like(f[:1])
        fm = torch.cat([z, f[:-1]], 0)
        fp = torch.cat([f[1:], z], 0)
        return self.cm * fm + self.c0 * f + self.cp * fp

    def test_filter(self, f):
        s = self.s
        return s.to_phys(s.to_spec(f) * self.test_mask)

    def gradients(self, u, v, w):
        """g[i][j] = ∂u_i/∂x_j at centres; u, w (Ny,Nx,Nz), v faces (Ny+1,Nx,Nz)."""
        s = self.s
        vc = 0.5 * (v[1:] + v[:-1])
        uh, vh, wh = s.to_spec(u), s.to_spec(vc), s.to_spec(w)
        d = s.to_phys(torch.cat([s.ikx * uh, s.ikz * uh, s.ikx * vh, s.ikz * vh, s.ikx * wh, s.ikz * wh], 0))
        ny = s.ny
        dux, duz, dvx, dvz, dwx, dwz = (d[k * ny : (k + 1) * ny] for k in range(6))
        dvy = (v[1:] - v[:-1]) / s.dy_t
        g = [[dux, self.ddy(u), duz], [dvx, dvy, dvz], [dwx, self.ddy(w), dwz]]
        return g, vc

    def eddy_viscosity(self, u, v, w):
        """ν_t at centres (Ny, Nx, Nz) and the gradient tensor used."""
        s = self.s
        g, vc = self.gradients(u, v, w)
        if self.kind == "smagorinsky":
            tw = max(s.wall_shear(), 1e-12)
            yplus = self.wall_dist * np.sqrt(tw) / s.cfg.nu
            damp = 1.0 - torch.exp(-yplus / s.cfg.van_driest_a)
            nut = smagorinsky_nut(g, self.delta, s.cfg.cs, damp)
        elif self.kind == "wale":
            nut = wale_nut(g, self.delta, s.cfg.cw)
        elif self.kind == "dynamic":
            # C(y) from the Germano identity once per time step (first RK substage), reused after
            if self.last_c is None or getattr(s, "substage", 0) == 0:
                c, smag = dynamic_coefficient([u, vc, w], g, self.delta, self.test_filter, self.alpha2)
                self.last_c = c[:, 0, 0]
            else:
                S = strain_rate(g)
                smag = torch.sqrt(2.0 * sum(S[i][j] ** 2 for i in range(3) for j in range(3)))
            nut = torch.clamp(self.last_c[:, None, None] * self.delta**2 * smag, min=0.0)
        else:
            raise ValueError(self.kind)
        self.last_nut = nut
        return nut, g

    def stress(self, u, v, w):
        """SGS stress: centres [xx, xz, zz, yy] (Ny,...) and interior faces [xy, zy] (Ny-1,...)."""
        nut, g = self.eddy_viscosity(u, v, w)
        S = strain_rate(g)
        tau = lambda i, j: -2.0 * nut * S[i][j]  # noqa: E731
        txy, tzy = tau(0, 1), tau(2, 1)
        face = lambda a: 0.5 * (a[1:] + a[:-1])  # noqa: E731
        return [tau(0, 0), tau(0, 2), tau(2, 2), tau(1, 1)], [face(txy), face(tzy)]
