"""Channel solver benchmark: speed (DNS and each LES model) and LES/DNS accuracy vs MKM 1999.

Usage::

    python benchmarks/channel_solver.py timing [--threads 1] [--steps 30]
    python benchmarks/channel_solver.py les [--spinup 15] [--average 15] [--models none,smagorinsky,wale,dynamic]
    python benchmarks/channel_solver.py dns --dataset data/channel_retau180_cpu.nc
    python benchmarks/channel_solver.py dns-run --restart spinup.pt --average 30

``timing``: milliseconds per time step and seconds per unit of simulated time (h/u_τ) for
DNS on the CPU recipe grid (48 × 80 × 48 in π × 2 × π/2) and for every SGS model on the
coarse LES grid (Lx × Ly × Lz = 4π × 2 × 4π/3; 32 × 33 × 16 retained Fourier modes / wall-normal
points, i.e. 48 × 32 × 24 collocation points with the 2/3 rule), on the CPU and, when
available, on CUDA. ``les``: each model is spun up from the same initial field and averaged;
the statistics are compared with MKM (``sciflow.evaluation.turbulence.compare_with_mkm``).
``dns``: the same comparison for the statistics stored in a dataset made by the
``channel_filtered_dns`` recipe. Results go to ``benchmarks/results/channel_*.json``, a
markdown table ``channel_*.md`` and profile plots ``channel_*.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sciflow.cfd.channel_dns import ChannelConfig, ChannelSolver  # noqa: E402
from sciflow.cfd.channel_initial import turbulent_initial_condition  # noqa: E402
from sciflow.data.io import atomic_write_text, json_ready  # noqa: E402
from sciflow.errors import SciflowError  # noqa: E402
from sciflow.cfd.channel_stats import channel_statistics  # noqa: E402
from sciflow.evaluation.turbulence import compare_with_mkm, plot_profiles  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
RE_TAU = 178.12
LES_GRID = dict(nx=48, ny=32, nz=24, lx=4 * math.pi, lz=4 * math.pi / 3, stretch=1.9)
DNS_GRID = dict(nx=48, ny=80, nz=48, lx=math.pi, lz=math.pi / 2, stretch=1.9)


def _machine() -> dict:
    return {
        "platform": platform.platform(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def time_case(grid: dict, sgs: str, dt: float, device: str, steps: int, dtype: str = "float32") -> dict:
    s = ChannelSolver(ChannelConfig(**grid, nu=1 / RE_TAU, dt=dt, sgs=sgs, dtype=dtype, device=device))
    turbulent_initial_condition(s, 1.0, seed=0)
    for _ in range(3):
        s.step()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        s.step()
    if device == "cuda":
        torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) / steps * 1e3
    return {"grid": f"{grid['nx']}x{grid['ny']}x{grid['nz']}", "sgs": sgs, "device": device, "dtype": dtype, "dt": dt,
            "ms_per_step": ms, "s_per_h_over_u_tau": ms * 1e-3 / dt}


def cmd_timing(args):
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for dev in devices:
        steps = args.steps if dev == "cpu" else 10 * args.steps
        rows.append({"case": "DNS (CPU recipe grid)", **time_case(DNS_GRID, "none", 2e-3, dev, steps)})
        for sgs in ("none", "smagorinsky", "wale", "dynamic"):
            # without a model the coarse run needs dt = 0.005 (CFL exceeded 1.6 at 0.01)
            dt = 5e-3 if sgs == "none" else 1e-2
            rows.append({"case": "LES coarse" if sgs != "none" else "no-model coarse", **time_case(LES_GRID, sgs, dt, dev, steps)})
    out = {"machine": _machine(), "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / "channel_timing.json", json.dumps(json_ready(out), indent=2))
    lines = ["| case | grid (collocation) | SGS | device | dtype | dt (h/u_τ) | ms/step | s per h/u_τ |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['grid']} | {r['sgs']} | {r['device']} | {r['dtype']} | {r['dt']} | {r['ms_per_step']:.1f} | {r['s_per_h_over_u_tau']:.1f} |")
    lines.append(f"\nthreads={out['machine']['threads']}, load average {out['machine']['load_average']}")
    atomic_write_text(RESULTS / "channel_timing.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def _table(rows: list[dict]) -> str:
    lines = ["| run | box | grid | averaging (h/u_τ) | Re_τ | U_c+ | U_b+ | err U+ | err u'+ | err v'+ | err w'+ | err uv+ |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        e = r["errors"]
        lines.append(
            f"| {r['run']}{' (dt=' + str(r['dt']) + ')' if r.get('dt') else ''} | {r['box']} | {r['grid']} | {r['averaging_time']:.1f} | {r['re_tau']:.1f} | {r['uc_plus']:.2f} | {r['ub_plus']:.2f} | "
            f"{100 * e['U_plus']:.1f} % | {100 * e['u_rms_plus']:.1f} % | {100 * e['v_rms_plus']:.1f} % | {100 * e['w_rms_plus']:.1f} % | {100 * e['uv_plus']:.1f} % |")
    lines.append("\nMKM 1999: Re_τ = 178.12, U_c+ = 18.30, U_b+ = 15.68. err U+ = max |U+ - U+_MKM| / U+_MKM over y+ ≥ 1;"
                 " rms/uv errors = max |f - f_MKM| / max |f_MKM| (sciflow.evaluation.turbulence.compare_with_mkm).")
    return "\n".join(lines) + "\n"


def _row(run: str, box: str, grid: str, st) -> dict:
    return {"run": run, "box": box, "grid": grid, "averaging_time": st.attrs["averaging_time"], "re_tau": st.attrs["re_tau"],
            "uc_plus": st.attrs["uc_plus"], "ub_plus": st.attrs["ub_plus"], "cf": st.attrs["cf"], "errors": compare_with_mkm(st)}


def cmd_les(args):
    stats = {}
    prev = RESULTS / "channel_les_accuracy.json"
    rows = []
    if prev.exists() and args.merge:
        old = json.loads(prev.read_text())
        rows = [{**r, "dt": r.get("dt", old.get("dt"))} for r in old["rows"]]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for sgs in args.models.split(","):
        s = ChannelSolver(ChannelConfig(**LES_GRID, nu=1 / RE_TAU, dt=args.dt, sgs=sgs, dtype="float32", device=device, cfl_max=1.6))
        turbulent_initial_condition(s, 1.0, seed=0)
        t0 = time.perf_counter()
        try:
            s.run(int(round(args.spinup / args.dt)), progress=True, desc=f"LES {sgs} spin-up")
            s.run(int(round(args.average / args.dt)), progress=True, desc=f"LES {sgs} average", stats_every=5)
        except SciflowError as exc:  # record an unstable model and go on with the others
            print(f"LES {sgs} failed: {exc}")
            continue
        st = channel_statistics(s.stats.result())
        stats[f"LES {sgs}"] = st
        row = _row(f"LES {sgs}", "4π × 2 × 4π/3", "32 × 33 × 16 modes/points (48 × 32 × 24 colloc.)", st)
        row["wall_time_s"] = time.perf_counter() - t0
        row["spinup"] = args.spinup
        row["dt"] = args.dt
        rows = [r for r in rows if r["run"] != row["run"]] + [row]
        print(row)
        out = {"machine": _machine(), "rows": rows}
        RESULTS.mkdir(parents=True, exist_ok=True)
        atomic_write_text(RESULTS / "channel_les_accuracy.json", json.dumps(json_ready(out), indent=2))
        atomic_write_text(RESULTS / "channel_les_accuracy.md", _table(rows))
    if stats:
        plot_profiles(stats, RESULTS / f"channel_les_profiles_{'_'.join(stats).replace('LES ', '')}.png")

        for k, st in stats.items():
            st.to_netcdf(RESULTS / f"channel_les_stats_{k.replace('LES ', '')}.nc", engine="h5netcdf")
    print(_table(rows))


def cmd_dns(args):
    from sciflow.data.io import read_dataset

    ds = read_dataset(args.dataset, required=("U_plus", "u_rms_plus", "v_rms_plus", "w_rms_plus", "uv_plus"))
    import xarray as xr

    st = xr.Dataset({k: ds[k] for k in ("U_plus", "u_rms_plus", "v_rms_plus", "w_rms_plus", "uv_plus")})
    st.attrs.update(re_tau=float(ds.attrs["re_tau"]), averaging_time=float(ds.attrs["averaging_time"]),
                    uc_plus=float(ds["U_plus"].values[-1]), ub_plus=float(ds.attrs["ub_plus"]), cf=float(ds.attrs["cf"]))
    box = " × ".join(f"{b:.3g}" for b in np.atleast_1d(ds.attrs["box"]))
    grid = " × ".join(str(int(g)) for g in np.atleast_1d(ds.attrs["grid"]))
    row = _row("DNS " + Path(args.dataset).stem, box, grid, st)
    row["wall_time_s"] = float(ds.attrs.get("wall_time_s", float("nan")))
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / "channel_dns_accuracy.json", json.dumps(json_ready({"machine": _machine(), "rows": [row]}), indent=2))
    atomic_write_text(RESULTS / "channel_dns_accuracy.md", _table([row]))
    plot_profiles({row["run"]: st}, RESULTS / "channel_dns_profiles.png")
    print(_table([row]))


def refine_xz(s: ChannelSolver, nx: int, nz: int) -> ChannelSolver:
    """The same flow on a finer x-z grid: the retained Fourier modes are copied (exact embedding)."""
    from dataclasses import replace

    r = ChannelSolver(replace(s.cfg, nx=nx, nz=nz))
    kx, kz = (s.nkx + 1) // 2, s.nkz
    scale = (nx * nz) / (s.nx * s.nz)
    for name in ("uh", "vh", "wh", "ph"):
        old, new = getattr(s, name), getattr(r, name).clone()
        new[:, :kx, :kz] = old[:, :kx] * scale
        new[:, r.nkx - (s.nkx - kx):, :kz] = old[:, kx:] * scale
        setattr(r, name, new)
    r.t, r.step_count = s.t, s.step_count
    return r


def cmd_dns_run(args):
    """Continue a DNS restart file (optionally refined in x, z) and average its statistics."""
    s = ChannelSolver.load(args.restart, device="cuda" if torch.cuda.is_available() else "cpu")
    if args.nx or args.nz:
        s = refine_xz(s, args.nx or s.nx, args.nz or s.nz)
    t0 = time.perf_counter()
    if args.spinup > 0:
        s.run(int(round(args.spinup / s.cfg.dt)), progress=True, desc="DNS spin-up")
    s.run(int(round(args.average / s.cfg.dt)), progress=True, desc="DNS average", stats_every=args.stats_every,
          restart_path=args.restart + ".avg", restart_every=2000)
    st = channel_statistics(s.stats.result())
    c = s.cfg
    row = _row("DNS (continued restart)", f"{c.lx:.3g} × 2 × {c.lz:.3g}", f"{c.nx} × {c.ny} × {c.nz}", st)
    row["wall_time_s"] = time.perf_counter() - t0
    row["t_start"] = float(s.stats.t_first)
    row["spinup_after_restart"] = args.spinup
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / "channel_dns_long.json", json.dumps(json_ready({"machine": _machine(), "rows": [row]}), indent=2))
    atomic_write_text(RESULTS / "channel_dns_long.md", _table([row]))
    st.to_netcdf(RESULTS / "channel_dns_long_stats.nc", engine="h5netcdf")
    plot_profiles({"DNS": st}, RESULTS / "channel_dns_long_profiles.png")
    from sciflow.evaluation.turbulence import plot_spectra

    plot_spectra(st, RESULTS / "channel_dns_long_spectra.png")
    print(_table([row]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("timing")
    a.add_argument("--steps", type=int, default=30)
    b = sub.add_parser("les")
    b.add_argument("--spinup", type=float, default=15.0)
    b.add_argument("--average", type=float, default=15.0)
    b.add_argument("--dt", type=float, default=1e-2)
    b.add_argument("--models", default="none,smagorinsky,wale,dynamic")
    b.add_argument("--merge", action="store_true", help="keep rows of other models from an earlier run")
    c = sub.add_parser("dns")
    c.add_argument("--dataset", required=True)
    d = sub.add_parser("dns-run")
    d.add_argument("--restart", required=True)
    d.add_argument("--average", type=float, default=30.0)
    d.add_argument("--stats-every", type=int, default=10)
    d.add_argument("--spinup", type=float, default=0.0)
    d.add_argument("--nx", type=int, default=0)
    d.add_argument("--nz", type=int, default=0)
    for p in (a, b, c, d):
        p.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    {"timing": cmd_timing, "les": cmd_les, "dns": cmd_dns, "dns-run": cmd_dns_run}[args.cmd](args)


if __name__ == "__main__":
    main()
