"""DFG cylinder benchmark: accuracy versus unknowns and seconds (sciflow's Taylor-Hood FEM).

2D-1 (Re 20): relative errors of c_D, c_L, Δp against the best-known values
(datasets/reference/dfg_cylinder_2d1.csv) on a sequence of gmsh meshes, with curved
(isoparametric P2) and straight-sided triangles. 2D-2 (Re 100): c_D,max, c_L,max,
Strouhal number and period averages from BDF2, against the Schäfer & Turek intervals.

Writes benchmarks/results/fem_cylinder.json and benchmarks/results/fem_cylinder.md.

    python benchmarks/fem_cylinder.py            # everything (2D-2 takes tens of minutes)
    python benchmarks/fem_cylinder.py --skip-2d2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path


from sciflow.cfd.cylinder_dfg import solve_2d1, solve_2d2
from sciflow.data.io import atomic_write_text, json_ready

ROOT = Path(__file__).resolve().parents[1]
REF_2D1 = {"c_D": 5.57953523384, "c_L": 0.010618948146, "delta_p": 0.11752016697}  # dfg_cylinder_2d1.csv
INTERVALS_2D2 = {"c_D_max": (3.22, 3.24), "c_L_max": (0.99, 1.01), "strouhal": (0.295, 0.305)}  # Schäfer & Turek 1996
MESHES = [(32, 0.04), (64, 0.03), (96, 0.025), (128, 0.02), (192, 0.015)]


def run_2d1(meshes) -> list[dict]:
    rows = []
    for order in (2, 1):
        for n_cyl, h_max in meshes:
            flow = solve_2d1(n_cyl, h_max, order)
            info = flow.info
            row = dict(order=order, n_cyl=n_cyl, h_max=h_max, n_dofs=info["n_dofs"], seconds=info["wall_time_s"],
                       newton_iterations=info["newton_iterations"])
            for key, ref in REF_2D1.items():
                row[key] = info[key]
                row[f"{key}_rel_err"] = (info[key] - ref) / ref
            rows.append(row)
            print(f"2D-1 order={order} n_cyl={n_cyl} dofs={row['n_dofs']} {row['seconds']:.1f}s "
                  f"c_D err {row['c_D_rel_err']:+.2e} c_L err {row['c_L_rel_err']:+.2e} dp err {row['delta_p_rel_err']:+.2e}", flush=True)
    return rows


def run_2d2(n_cyl: int, h_max: float, dt: float) -> dict:
    flow = solve_2d2(n_cyl, h_max, dt=dt, progress=True)
    info = flow.info
    keys = ("c_D_max", "c_L_max", "strouhal", "c_D_mean", "c_L_mean", "c_D_min", "c_L_min", "period", "t_start", "periodic_rtol",
            "n_dofs", "n_steps", "factorizations", "gmres_iterations_mean")
    row = {k: info[k] for k in keys}
    row.update(n_cyl=n_cyl, h_max=h_max, dt=dt, seconds=info["wall_time_s"], t_final=float(info["t"][-1]),
               within_intervals={k: bool(lo <= info[k] <= hi) for k, (lo, hi) in INTERVALS_2D2.items()})
    print("2D-2", {k: row[k] for k in ("c_D_max", "c_L_max", "strouhal", "seconds", "n_steps")}, flush=True)
    return row


def markdown(res: dict) -> str:
    env = res["environment"]
    lines = ["# DFG cylinder benchmark (Taylor-Hood P2/P1, scikit-fem, gmsh meshes)", "",
             f"Machine: {env['machine']}, {env['cpus']} CPUs, load average at start {env['loadavg_start']}, "
             f"at end {env['loadavg_end']}; seconds are wall time including meshing.", "",
             "## 2D-1 (Re 20, steady, Newton): relative error vs best-known values", "",
             "| elements | n_cyl | h_max | unknowns | seconds | c_D | err c_D | c_L | err c_L | Δp | err Δp |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["2d1"]:
        kind = "curved P2" if r["order"] == 2 else "straight"
        lines.append(f"| {kind} | {r['n_cyl']} | {r['h_max']} | {r['n_dofs']} | {r['seconds']:.1f} | {r['c_D']:.6f} | "
                     f"{r['c_D_rel_err']:+.1e} | {r['c_L']:.6f} | {r['c_L_rel_err']:+.1e} | {r['delta_p']:.6f} | {r['delta_p_rel_err']:+.1e} |")
    if res.get("2d2"):
        r = res["2d2"]
        lines += ["", "## 2D-2 (Re 100, periodic, BDF2 with extrapolated convection)", "",
                  f"n_cyl={r['n_cyl']}, h_max={r['h_max']}, {r['n_dofs']} unknowns, dt={r['dt']}, {r['n_steps']} steps to "
                  f"t={r['t_final']:.2f} s, {r['seconds']:.0f} s wall, {r['factorizations']} LU factorisations, "
                  f"mean GMRES iterations {r['gmres_iterations_mean']:.1f}; statistics over 4 periods from t={r['t_start']:.2f}.", "",
                  "| quantity | value | Schäfer & Turek interval | inside |", "|---|---|---|---|"]
        for k, (lo, hi) in INTERVALS_2D2.items():
            lines.append(f"| {k} | {r[k]:.4f} | [{lo}, {hi}] | {'yes' if r['within_intervals'][k] else 'no'} |")
        lines += [f"| c_D mean (period average) | {r['c_D_mean']:.4f} | | |", f"| c_L mean (period average) | {r['c_L_mean']:.4f} | | |",
                  f"| c_D min / c_L min | {r['c_D_min']:.4f} / {r['c_L_min']:.4f} | | |"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-2d2", action="store_true")
    ap.add_argument("--n-cyl-2d2", type=int, default=64)
    ap.add_argument("--h-max-2d2", type=float, default=0.02)
    ap.add_argument("--dt", type=float, default=0.005)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results"))
    args = ap.parse_args(argv)
    env = dict(machine=platform.processor() or platform.machine(), cpus=os.cpu_count(), loadavg_start=[round(v, 2) for v in os.getloadavg()])
    t0 = time.perf_counter()
    res = {"environment": env}
    if not args.skip_2d2:
        res["2d2"] = run_2d2(args.n_cyl_2d2, args.h_max_2d2, args.dt)
    res["2d1"] = run_2d1(MESHES)
    env.update(loadavg_end=[round(v, 2) for v in os.getloadavg()], total_seconds=time.perf_counter() - t0)
    out = Path(args.out)
    atomic_write_text(out / "fem_cylinder.json", json.dumps(json_ready(res), indent=2))
    atomic_write_text(out / "fem_cylinder.md", markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
