"""LES on the surrogates' coarse grid, started from the same filtered-DNS states: statistics and cost.

The channel surrogates forecast the filtered DNS on the coarse grid of the dataset (X × Y × Z
points: X, Z uniform in the periodic directions, Y wall-normal points including both walls).
The LES that competes with them runs on the same resolved scales:

* x, z: ``3X/2 × 3Z/2`` collocation points, whose 2/3-rule retained modes |k_x| ≤ (X − 1)/2,
  k_z ≤ (Z − 1)/2 are exactly the Fourier modes the sharp filter of the dataset keeps;
* y: ``Y − 1`` cells whose faces are the dataset's wall-normal points (``coarse_y_points`` and the
  solver's tanh grid are the same map), u and w at the cell centres, v on the faces;
* the box, viscosity and constant pressure gradient of the DNS (wall units), ``sgs`` one of
  smagorinsky | wale | dynamic (:mod:`sciflow.cfd.channel_les`).

Start: each filtered-DNS state (X, Y, Z, 3) is interpolated onto the LES grid (spectral zero-padding
in x, z; linear from faces to centres in y for u, w) and projected onto divergence-free fields.
Every ``dt_snapshot`` the LES state is mapped back onto the coarse points (sharp truncation to the
same modes, linear centres → faces with zero wall values) and accumulated in a
:class:`~sciflow.cfd.channel_profiles.ProfileAccumulator`, exactly as the surrogate rollout
states are. Cost: wall time per h/u_τ of simulated time, per trajectory.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from sciflow.cfd.channel_dns import ChannelConfig, ChannelSolver
from sciflow.cfd.filters import interp_matrix, spectral_coarsen_xz
from sciflow.errors import SciflowError
from sciflow.cfd.channel_profiles import ProfileAccumulator

#: LES time step (h/u_τ) on the resolved scales of the CPU channel data (24 × 32 × 24, π × 2 × π/2):
#: from a filtered-DNS state, Smagorinsky runs at CFL 0.9-1.0 with 0.005, crosses the solver's CFL
#: limit 1.6 after 4.7 h/u_τ with 0.00667 and within 0.16 h/u_τ with 0.008; 0.01 and 0.0125 diverge
#: within 10 steps (the same with no SGS model).
LES_DT = 0.005


def les_solver_for(ds, sgs: str, dt: float, device: str = "cpu") -> ChannelSolver:
    """The LES solver on the resolved scales of the coarse grid of a ``channel_filtered_dns`` dataset ``ds``."""
    nx, ny, nz = (int(ds.sizes[a]) for a in ("x", "y", "z"))
    lx, _, lz = (float(b) for b in ds.attrs["box"])
    prm = ds.attrs.get("parameters")
    stretch = 1.9
    if prm:
        import json

        stretch = float(json.loads(prm).get("stretch", stretch)) if isinstance(prm, str) else stretch
    cfg = ChannelConfig(nx=3 * nx // 2, ny=ny - 1, nz=3 * nz // 2, lx=lx, lz=lz, stretch=stretch,
                        nu=1.0 / float(ds.attrs.get("re_tau_nominal", 178.12)), drive="pressure", forcing=1.0,
                        dt=dt, sgs=sgs, dtype="float32", device=device, cfl_max=1.6)
    s = ChannelSolver(cfg)
    if not np.allclose(s.grid.yf, np.asarray(ds["y"].values), atol=1e-6):
        raise SciflowError("LES: the dataset's wall-normal points are not the faces of a tanh grid with "
                           f"stretch {stretch}; cannot put the LES on the same grid")
    return s


class CoarseGridMap:
    """Maps between the dataset's coarse points (X, Y, Z, 3) and an LES solver's state."""

    def __init__(self, solver: ChannelSolver, nx: int, nz: int):
        self.s, self.nx, self.nz = solver, nx, nz
        t = lambda a: torch.as_tensor(a, dtype=solver.rdtype, device=solver.device)  # noqa: E731
        self.faces_to_centres = t(interp_matrix(solver.grid.yf, solver.grid.yc))  # (Ny, Ny+1)
        self.centres_to_faces = t(interp_matrix(np.r_[-1.0, solver.grid.yc, 1.0], solver.grid.yf))  # (Ny+1, Ny+2)

    @staticmethod
    def _apply_y(P: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return (P @ f.reshape(f.shape[0], -1)).reshape(P.shape[0], *f.shape[1:])

    def set_state(self, state: np.ndarray):
        """Set the LES to the coarse physical state (X, Y, Z, 3) (walls included in Y)."""
        s = self.s
        f = torch.as_tensor(np.asarray(state), dtype=s.rdtype, device=s.device).permute(3, 1, 0, 2)  # (3, Y, X, Z)
        fine = [spectral_coarsen_xz(c, s.nx, s.nz) for c in f]  # zero-padding: (Y, Nx, Nz)
        u, w = (self._apply_y(self.faces_to_centres, c) for c in (fine[0], fine[2]))
        s.set_state(u, fine[1], w, project=True)

    def state(self) -> np.ndarray:
        """The LES state on the coarse points, (X, Y, Z, 3) float64."""
        s = self.s
        u, v, w = s.fields()
        zero = torch.zeros_like(u[:1])
        out = []
        for c, at_centres in ((u, True), (v, False), (w, True)):
            if at_centres:
                c = self._apply_y(self.centres_to_faces, torch.cat([zero, c, zero], 0))
            out.append(spectral_coarsen_xz(c, self.nx, self.nz))
        return torch.stack(out, -1).permute(1, 0, 2, 3).double().cpu().numpy()


def _snapshot_steps(ds, dt: float) -> int:
    dt_snap = float(ds.attrs["dt_snapshot"])
    every = int(round(dt_snap / dt))
    if every < 1 or abs(every * dt - dt_snap) > 1e-9 * dt_snap:
        raise SciflowError(f"LES: dt = {dt} does not divide the snapshot interval {dt_snap}")
    return every


def les_rollout(ds, states: np.ndarray, sgs: str, snapshots: int, dt: float = LES_DT, device: str = "cpu",
                progress: bool = False) -> dict:
    """Run the LES from each state of ``states`` (B, X, Y, Z, 3) for ``snapshots`` intervals of the dataset's
    ``dt_snapshot``; returns {"accumulator", "snapshots_stable", "seconds_per_time_unit"} (per trajectory).

    A run that goes unstable (CFL above the solver's limit) keeps the snapshots made before it."""
    from tqdm.auto import tqdm

    every = _snapshot_steps(ds, dt)
    acc, stable, seconds, simulated = ProfileAccumulator(), snapshots, 0.0, 0.0
    for b in range(states.shape[0]):
        s = les_solver_for(ds, sgs, dt, device)
        m = CoarseGridMap(s, int(ds.sizes["x"]), int(ds.sizes["z"]))
        m.set_state(states[b])
        t0 = time.perf_counter()
        for k in tqdm(range(snapshots), desc=f"LES {sgs} ({b + 1}/{states.shape[0]})", disable=not progress):
            try:
                s.run(every, progress=False, check_every=every)
            except SciflowError:
                stable = min(stable, k)
                break
            simulated += every * dt
            acc.add(m.state()[None])
        seconds += time.perf_counter() - t0
    return {"accumulator": acc, "snapshots_stable": int(stable),
            "seconds_per_time_unit": seconds / max(simulated, 1e-30)}


def les_one_step_error(ds, inputs: np.ndarray, targets: np.ndarray, sgs: str, dt: float = LES_DT,
                       device: str = "cpu") -> float:
    """Mean relative L2 error ‖LES(u_k) − u_{k+1}‖ / ‖u_{k+1}‖ over pairs of coarse physical states
    inputs, targets (N, X, Y, Z, 3) one ``dt_snapshot`` apart (the surrogates' one-step metric)."""
    every = _snapshot_steps(ds, dt)
    errs = []
    for a, b in zip(inputs, targets):
        s = les_solver_for(ds, sgs, dt, device)
        m = CoarseGridMap(s, int(ds.sizes["x"]), int(ds.sizes["z"]))
        m.set_state(a)
        s.run(every, progress=False, check_every=every)
        errs.append(float(np.linalg.norm(m.state() - b) / np.linalg.norm(b)))
    return float(np.mean(errs))
