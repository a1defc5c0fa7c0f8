"""3D incompressible turbulent channel flow: DNS and LES in torch (CPU or GPU).

Discretisation
    Periodic in x and z (pseudo-spectral, 2/3-rule dealiasing, Nyquist modes dropped),
    no-slip walls at y = ±1 with second-order finite differences on a tanh-stretched
    staggered grid in y (``sciflow.cfd.channel_operators``). Convection in divergence form
    ``∂_j(u_i u_j)`` with arithmetic-mean interpolation in y (Morinishi et al. 1998).
Time stepping
    Low-storage RK3/Crank-Nicolson of Spalart, Moser & Rogers (1991, their eq. (A1)):
    convection (and the SGS stress divergence) explicit, all viscous terms implicit, and an
    incremental-pressure fractional-step projection per substage (Kim & Moin 1985;
    Le & Moin 1991). The discrete divergence of the velocity after each substage is zero to
    round-off because the Poisson operator is exactly ``D G`` of the staggered grid.
Drive
    ``drive="pressure"``: fixed mean pressure gradient ``-dP/dx = forcing``;
    ``drive="flowrate"``: the forcing is chosen each substage so that the bulk velocity stays
    exactly ``ub``.
Units
    Lengths in h (half height), the caller picks the velocity scale; ``nu`` is 1/Re in those
    units (with ``drive="pressure"``, ``forcing = 1`` and ``nu = 1/Re_τ`` give wall units).

Storage (``y`` first so that wall-normal solves are one GEMM): physical arrays
``u, w, p: (Ny, Nx, Nz)``, ``v: (Ny+1, Nx, Nz)`` (faces incl. walls); spectral arrays the
``rfft2`` over (x, z) restricted to the retained modes: ``(·, nkx, nkz)`` complex with
``nkx = 2 Kx + 1``, ``nkz = Kz + 1``, ``K = (N-1)//3``; ``vh`` keeps only the Ny-1 interior faces.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sciflow.cfd.channel_operators import EigenOperator, WallNormalGrid, wall_slope
from sciflow.data.torch_files import atomic_torch_save, safe_torch_load
from sciflow.errors import SciflowError

# Spalart, Moser & Rogers (1991) low-storage RK3/CN coefficients.
RK_GAMMA = (8.0 / 15.0, 5.0 / 12.0, 3.0 / 4.0)
RK_ZETA = (0.0, -17.0 / 60.0, -5.0 / 12.0)
RK_ALPHA = (29.0 / 96.0, -3.0 / 40.0, 1.0 / 6.0)
RK_BETA = (37.0 / 160.0, 5.0 / 24.0, 1.0 / 6.0)


@dataclass
class ChannelConfig:
    """Parameters of a channel run (all lengths in h)."""

    nx: int = 32
    ny: int = 64
    nz: int = 32
    lx: float = 2.0 * math.pi
    lz: float = math.pi
    stretch: float = 1.8
    nu: float = 1.0 / 180.0
    drive: str = "pressure"  # "pressure" | "flowrate"
    forcing: float = 1.0  # -dP/dx for drive="pressure"
    ub: float | None = None  # bulk velocity for drive="flowrate" (None: keep the initial one)
    dt: float = 1e-3
    sgs: str = "none"  # none | smagorinsky | dynamic | wale
    cs: float = 0.1  # Smagorinsky constant
    cw: float = 0.325  # WALE constant
    van_driest_a: float = 26.0
    dtype: str = "float64"
    device: str = "cpu"
    cfl_max: float = 1.5  # stop (error) above this advective CFL

    def __post_init__(self):
        if self.drive not in ("pressure", "flowrate"):
            raise SciflowError(f"channel: drive must be 'pressure' or 'flowrate', got {self.drive!r}")
        if self.sgs not in ("none", "smagorinsky", "dynamic", "wale"):
            raise SciflowError(f"channel: sgs must be none|smagorinsky|dynamic|wale, got {self.sgs!r}")
        if self.dtype not in ("float32", "float64"):
            raise SciflowError(f"channel: dtype must be float32 or float64, got {self.dtype!r}")
        if self.ny < 4 or self.nx < 1 or self.nz < 1:
            raise SciflowError(f"channel: grid too small (nx={self.nx}, ny={self.ny}, nz={self.nz})")


class ChannelSolver:
    """Fourier (x, z) × staggered second-order FD (y) channel solver; see module docstring."""

    def __init__(self, cfg: ChannelConfig):
        self.cfg = cfg
        if cfg.dtype == "float64":
            torch.set_flush_denormal(True)
        self.device = torch.device(cfg.device)
        self.rdtype = torch.float64 if cfg.dtype == "float64" else torch.float32
        self.cdtype = torch.complex128 if cfg.dtype == "float64" else torch.complex64
        self.grid = WallNormalGrid.tanh(cfg.ny, cfg.stretch)
        g, dev, rd = self.grid, self.device, self.rdtype
        self.ny, self.nx, self.nz, self.nzr = cfg.ny, cfg.nx, cfg.nz, cfg.nz // 2 + 1
        self.x = np.arange(cfg.nx) * cfg.lx / cfg.nx
        self.z = np.arange(cfg.nz) * cfg.lz / cfg.nz
        kmax_x, kmax_z = (cfg.nx - 1) // 3, (cfg.nz - 1) // 3  # 2/3 rule, Nyquist dropped
        # only the retained (dealiased) modes are stored: x indices 0..Kx and Nx-Kx..Nx-1, z 0..Kz
        kx_idx = np.r_[0 : kmax_x + 1, cfg.nx - kmax_x : cfg.nx] if kmax_x > 0 else np.array([0])
        self.kx_idx = torch.as_tensor(kx_idx, device=dev, dtype=torch.long)
        self.nkx, self.nkz = len(kx_idx), kmax_z + 1
        kx = np.fft.fftfreq(cfg.nx, 1.0 / cfg.nx)[kx_idx]
        kz = np.arange(self.nkz, dtype=float)
        self.kx_int, self.kz_int = kx, kz
        self.kx = torch.as_tensor(2 * np.pi / cfg.lx * kx, device=dev, dtype=rd)[None, :, None]
        self.kz = torch.as_tensor(2 * np.pi / cfg.lz * kz, device=dev, dtype=rd)[None, None, :]
        self.ikx = 1j * self.kx.to(self.cdtype)
        self.ikz = 1j * self.kz.to(self.cdtype)
        self.k2 = self.kx**2 + self.kz**2
        self.op_c = EigenOperator(*g.laplacian_centres(), dev, rd)
        self.op_f = EigenOperator(*g.laplacian_faces(), dev, rd)
        self.op_p = EigenOperator(*g.laplacian_pressure(), dev, rd)
        t = lambda a: torch.as_tensor(a, device=dev, dtype=rd)  # noqa: E731
        self.dy_t = t(g.dy)[:, None, None]
        self.hint_t = t(g.h_int)[:, None, None]
        self.yc_t, self.yf_t = t(g.yc), t(g.yf)
        # Poisson inverse eigenvalues; the (k=0, λ=0) null space is set to zero.
        lam_p = self.op_p.lam[:, None, None] - self.k2
        self.inv_p = torch.where(lam_p.abs() < 1e-12 * self.op_p.lam.abs().max(), torch.zeros_like(lam_p), 1.0 / lam_p)
        self._helm = {}
        self.phi_bulk = {}
        for k in range(3):
            c = RK_BETA[k] * cfg.dt * cfg.nu
            inv_c = 1.0 / (1.0 - c * (self.op_c.lam[:, None, None] - self.k2))
            inv_f = 1.0 / (1.0 - c * (self.op_f.lam[:, None, None] - self.k2))
            self._helm[k] = (inv_c, inv_f)
            ones = torch.ones(self.ny, 1, 1, dtype=self.cdtype, device=dev)
            phi = self.op_c.solve(ones, inv_c[:, :1, :1]).real[:, 0, 0]
            self.phi_bulk[k] = (phi, self.bulk_of(phi))
        self.sgs = None
        if cfg.sgs != "none":
            from sciflow.cfd.channel_les import SGSModel

            self.sgs = SGSModel(self, cfg.sgs)
        self.t = 0.0
        self.step_count = 0
        self.forcing = cfg.forcing if cfg.drive == "pressure" else 0.0
        self.ub_target = cfg.ub
        z = lambda n: torch.zeros(n, self.nkx, self.nkz, dtype=self.cdtype, device=dev)  # noqa: E731
        self.uh, self.vh, self.wh, self.ph = z(self.ny), z(self.ny - 1), z(self.ny), z(self.ny)
        self._n_prev = None
        self.stats = None
        self.substage = 0

    # ------------------------------------------------------------------ transforms
    def to_phys(self, fh: torch.Tensor) -> torch.Tensor:
        """Retained modes (n, nkx, nkz) complex → physical (n, Nx, Nz) real (zero-padded)."""
        full = torch.zeros(fh.shape[0], self.nx, self.nzr, dtype=fh.dtype, device=fh.device)
        kx = (self.nkx + 1) // 2  # modes 0..Kx
        full[:, :kx, : self.nkz] = fh[:, :kx]
        if self.nkx > kx:
            full[:, self.nx - (self.nkx - kx) :, : self.nkz] = fh[:, kx:]
        return torch.fft.irfftn(full, s=(self.nx, self.nz), dim=(1, 2))

    def to_spec(self, f: torch.Tensor) -> torch.Tensor:
        """Physical (n, Nx, Nz) real → retained modes (n, nkx, nkz) complex (2/3-rule truncation)."""
        full = torch.fft.rfftn(f, dim=(1, 2))
        kx = (self.nkx + 1) // 2
        if self.nkx == kx:
            return full[:, :kx, : self.nkz].contiguous()
        return torch.cat([full[:, :kx, : self.nkz], full[:, self.nx - (self.nkx - kx) :, : self.nkz]], 1)

    def v_full(self, vh: torch.Tensor) -> torch.Tensor:
        """Interior faces (Ny-1, ...) → all faces (Ny+1, ...) with zero wall rows."""
        zero = torch.zeros_like(vh[:1])
        return torch.cat([zero, vh, zero], 0)

    def bulk_of(self, prof: torch.Tensor) -> torch.Tensor:
        """Bulk mean (1/2)∫ prof dy of a centre profile (Ny,)."""
        return (prof * self.dy_t[:, 0, 0]).sum() / 2.0

    # ------------------------------------------------------------------ state
    def set_state(self, u: torch.Tensor, v: torch.Tensor, w: torch.Tensor, project: bool = True):
        """Physical fields: u, w (Ny, Nx, Nz) at centres; v (Ny+1, Nx, Nz) at faces (walls ignored)."""
        cv = lambda a: torch.as_tensor(a, device=self.device, dtype=self.rdtype)  # noqa: E731
        self.uh = self.to_spec(cv(u))
        self.vh = self.to_spec(cv(v)[1:-1])
        self.wh = self.to_spec(cv(w))
        self.ph = torch.zeros_like(self.uh)
        if project:
            self._project(1.0)
        if self.ub_target is None and self.cfg.drive == "flowrate":
            self.ub_target = float(self.bulk_velocity())
        self._n_prev = None

    def fields(self):
        """Physical (u, v, w): (Ny, Nx, Nz), (Ny+1, Nx, Nz), (Ny, Nx, Nz)."""
        return self.to_phys(self.uh), self.to_phys(self.v_full(self.vh)), self.to_phys(self.wh)

    def mean_profile(self) -> torch.Tensor:
        """Plane-averaged u at centres, (Ny,)."""
        return self.uh[:, 0, 0].real / (self.nx * self.nz)

    def bulk_velocity(self) -> float:
        return float(self.bulk_of(self.mean_profile()))

    def laminar_profile(self, forcing: float | None = None) -> np.ndarray:
        """Discrete steady solution of ν D2 U = -forcing with U = 0 on walls, (Ny,) at centres."""
        f = self.cfg.forcing if forcing is None else forcing
        K, m = self.grid.laplacian_centres()
        return np.linalg.solve(self.cfg.nu * (K / m[:, None]), -f * np.ones(self.ny))

    def divergence(self) -> torch.Tensor:
        """Discrete divergence at centres in physical space, (Ny, Nx, Nz)."""
        vf = self.v_full(self.vh)
        d = self.ikx * self.uh + (vf[1:] - vf[:-1]) / self.dy_t + self.ikz * self.wh
        return self.to_phys(d)

    # ------------------------------------------------------------------ numerics
    def _project(self, cdt: float):
        """Make (uh, vh, wh) discretely divergence-free; returns φ with u -= cdt ∇φ."""
        vf = self.v_full(self.vh)
        div = self.ikx * self.uh + (vf[1:] - vf[:-1]) / self.dy_t + self.ikz * self.wh
        phi = self.op_p.solve(div / cdt, self.inv_p)
        self.uh = self.uh - cdt * self.ikx * phi
        self.vh = self.vh - cdt * (phi[1:] - phi[:-1]) / self.hint_t
        self.wh = self.wh - cdt * self.ikz * phi
        return phi

    def nonlinear(self, uh, vh, wh):
        """-∂_j(u_i u_j + τ_ij) for the three components (spectral; centres, faces, centres).

        Products are formed in physical space on the dealiased fields (2/3 rule);
        τ_ij is the SGS stress (zero for DNS).
        """
        ny = self.ny
        phys = self.to_phys(torch.cat([uh, self.v_full(vh), wh], 0))
        u, v, w = phys[:ny], phys[ny : 2 * ny + 1], phys[2 * ny + 1 :]
        uf = 0.5 * (u[1:] + u[:-1])
        wf = 0.5 * (w[1:] + w[:-1])
        vc = 0.5 * (v[1:] + v[:-1])
        vi = v[1:-1]
        fc = [u * u, u * w, w * w, vc * vc]
        ff = [uf * vi, wf * vi]
        if self.sgs is not None:
            tc, tf = self.sgs.stress(u, v, w)  # centres: xx, xz, zz, yy ; faces: xy, zy
            fc = [a + b for a, b in zip(fc, tc)]
            ff = [a + b for a, b in zip(ff, tf)]
        spec = self.to_spec(torch.cat(fc + ff, 0))
        UU, UW, WW, VV = (spec[i * ny : (i + 1) * ny] for i in range(4))
        UV, WV = spec[4 * ny : 5 * ny - 1], spec[5 * ny - 1 :]
        pad = lambda q: torch.cat([torch.zeros_like(q[:1]), q, torch.zeros_like(q[:1])], 0)  # noqa: E731
        UVf, WVf = pad(UV), pad(WV)
        nu_ = -(self.ikx * UU + (UVf[1:] - UVf[:-1]) / self.dy_t + self.ikz * UW)
        nv_ = -(self.ikx * UV + (VV[1:] - VV[:-1]) / self.hint_t + self.ikz * WV)
        nw_ = -(self.ikx * UW + (WVf[1:] - WVf[:-1]) / self.dy_t + self.ikz * WW)
        return nu_, nv_, nw_

    def _lap_c(self, fh):
        return self.op_c.apply(fh) - self.k2 * fh

    def _lap_f(self, fh):
        return self.op_f.apply(fh) - self.k2 * fh

    def step(self):
        """One RK3/CN step of size cfg.dt (three substages, each projected)."""
        cfg, dt, nu = self.cfg, self.cfg.dt, self.cfg.nu
        nprev = None
        for k in range(3):
            self.substage = k
            a, b, g, zt = RK_ALPHA[k], RK_BETA[k], RK_GAMMA[k], RK_ZETA[k]
            cdt = (a + b) * dt
            n = self.nonlinear(self.uh, self.vh, self.wh)
            inv_c, inv_f = self._helm[k]
            rhs = []
            for i, (fh, lap) in enumerate(((self.uh, self._lap_c), (self.vh, self._lap_f), (self.wh, self._lap_c))):
                r = fh + dt * (a * nu * lap(fh) + g * n[i])
                if zt != 0.0:
                    r = r + dt * zt * nprev[i]
                rhs.append(r)
            # incremental pressure: old gradient in the predictor
            rhs[0] = rhs[0] - cdt * self.ikx * self.ph
            rhs[1] = rhs[1] - cdt * (self.ph[1:] - self.ph[:-1]) / self.hint_t
            rhs[2] = rhs[2] - cdt * self.ikz * self.ph
            if cfg.drive == "pressure":
                rhs[0][:, 0, 0] += cdt * self.forcing * (self.nx * self.nz)
            self.uh = self.op_c.solve(rhs[0], inv_c)
            self.vh = self.op_f.solve(rhs[1], inv_f)
            self.wh = self.op_c.solve(rhs[2], inv_c)
            if cfg.drive == "flowrate":
                phi, phib = self.phi_bulk[k]
                ub_now = self.bulk_of(self.uh[:, 0, 0].real) / (self.nx * self.nz)
                f = (self.ub_target - ub_now) / (cdt * phib)
                self.uh[:, 0, 0] += cdt * f * phi * (self.nx * self.nz)
                self.forcing = float(f)
            phi_p = self._project(cdt)
            self.ph = self.ph + phi_p
            nprev = n
        self.t += dt
        self.step_count += 1

    # ------------------------------------------------------------------ diagnostics
    def cfl(self) -> float:
        """Advective CFL: dt·max(|u|/Δx + |v|/Δy + |w|/Δz) with Δx = Lx/Nx."""
        u, v, w = self.fields()
        vc = 0.5 * (v[1:] + v[:-1])
        c = u.abs() * (self.nx / self.cfg.lx) + vc.abs() / self.dy_t + w.abs() * (self.nz / self.cfg.lz)
        return float(c.max()) * self.cfg.dt

    def wall_shear(self) -> float:
        """Mean of ν dU/dy over both walls (instantaneous, plane-averaged)."""
        prof = self.mean_profile().cpu().numpy()
        yc = self.grid.yc
        return 0.5 * self.cfg.nu * (wall_slope(yc, prof, -1.0) + wall_slope(yc, prof, 1.0))

    def re_tau(self) -> float:
        tw = self.wall_shear()
        return math.sqrt(max(tw, 0.0)) / self.cfg.nu

    # ------------------------------------------------------------------ restart
    def state_dict(self) -> dict:
        return {
            "config": asdict(self.cfg),
            "t": self.t,
            "step": self.step_count,
            "forcing": self.forcing,
            "ub_target": self.ub_target,
            "uh": self.uh.cpu(),
            "vh": self.vh.cpu(),
            "wh": self.wh.cpu(),
            "ph": self.ph.cpu(),
            "stats": None if self.stats is None else self.stats.state_dict(),
        }

    def save(self, path: str | os.PathLike):
        """Restart file (tensors and plain data only), written to a temporary name and renamed."""
        atomic_torch_save(self.state_dict(), path)

    @classmethod
    def load(cls, path, **overrides) -> "ChannelSolver":
        """Rebuild a solver from a restart file; ``overrides`` replace config entries (e.g. device)."""
        sd = safe_torch_load(path, "channel restart file")
        cfgd = dict(sd["config"])
        cfgd.update(overrides)
        s = cls(ChannelConfig(**cfgd))
        s.load_state(sd)
        return s

    def load_state(self, sd: dict):
        same = sd["uh"].shape == self.uh.shape
        if not same:
            raise SciflowError(f"restart grid {tuple(sd['uh'].shape)} does not match solver {tuple(self.uh.shape)}")
        to = lambda a: a.to(device=self.device, dtype=self.cdtype)  # noqa: E731
        self.uh, self.vh, self.wh, self.ph = to(sd["uh"]), to(sd["vh"]), to(sd["wh"]), to(sd["ph"])
        self.t, self.step_count = float(sd["t"]), int(sd["step"])
        self.forcing, self.ub_target = sd["forcing"], sd["ub_target"]
        if sd.get("stats") is not None:
            from sciflow.cfd.channel_stats import ChannelStatsAccumulator

            self.stats = ChannelStatsAccumulator(self)
            self.stats.load_state_dict(sd["stats"])

    # ------------------------------------------------------------------ driver
    def run(self, n_steps: int, progress: bool = True, desc: str = "channel", stats_every: int = 0,
            restart_path=None, restart_every: int = 0, callback=None, check_every: int = 50):
        """Advance ``n_steps`` steps with a tqdm bar (CFL, Re_τ, U_b).

        stats_every > 0 accumulates turbulence statistics every that many steps;
        callback(solver) is called after every step (e.g. to store snapshots).
        """
        from tqdm.auto import tqdm

        if stats_every and self.stats is None:
            from sciflow.cfd.channel_stats import ChannelStatsAccumulator

            self.stats = ChannelStatsAccumulator(self)
        bar = tqdm(total=n_steps, desc=desc, disable=not progress, mininterval=1.0)
        for i in range(n_steps):
            self.step()
            if stats_every and (i + 1) % stats_every == 0:
                self.stats.add(self)
            if callback is not None:
                callback(self)
            if (i + 1) % check_every == 0 or i == n_steps - 1:
                cfl = self.cfl()
                if not math.isfinite(cfl) or cfl > self.cfg.cfl_max:
                    raise SciflowError(f"channel: unstable at step {self.step_count} (t={self.t:.4f}): CFL={cfl:.3g}; reduce dt")
                bar.set_postfix(CFL=f"{cfl:.2f}", Re_tau=f"{self.re_tau():.1f}", Ub=f"{self.bulk_velocity():.3f}", t=f"{self.t:.2f}")
            if restart_path and restart_every and (i + 1) % restart_every == 0:
                self.save(restart_path)
            bar.update(1)
        bar.close()
        if restart_path:
            self.save(restart_path)
        return self

