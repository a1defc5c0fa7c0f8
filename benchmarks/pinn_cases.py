"""Hard-BC PINN cases beyond the cavity: DFG cylinder 2D-1, sinusoidal pipe (entrance and developed flow), start-up Poiseuille.

Each case trains its config in configs/ (one process at a time, ``--threads`` torch threads),
then runs ``sciflow.evaluate`` against the reference (FEM for cylinder and pipe, the exact
series for the transient case). Rows of benchmarks/results/pinn_cases.json:
``{"case", "metric", "value", "reference", "train_seconds", "device"}`` where ``reference`` is
the FEM value for forces and flow rates, and for errors the range the source work reports
for its hard-BC PINNs (normalised L2 errors between 1e-4 and 1e-1). The markdown table adds
the acceptance bar of each case. The configs take about 110 min on one CPU thread (cylinder 54,
pipe 44, pipe_periodic 11, transient 0.5); ``--scale`` multiplies every phase's step count.

``--reuse`` evaluates a finished run already at ``<out>/<case>`` instead of training again,
provided its saved spec equals the config's in every key that shapes the weights.

Usage: python benchmarks/pinn_cases.py [--cases cylinder pipe pipe_periodic transient] [--scale 1.0] [--threads 1] [--merge] [--reuse]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, markdown_table, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCE_RANGE = "1e-4 .. 1e-1 (source work)"
CASES = {
    "cylinder": ("configs/cylinder_2d1_pinn.yaml", [
        ("velocity_rel_l2", None, SOURCE_RANGE), ("p_rel_l2", None, SOURCE_RANGE),
        ("c_D", "c_D_fem", "c_D within 2 % of FEM"), ("c_D_rel_err", None, "<= 0.02"),
        ("c_L", "c_L_fem", ""), ("delta_p", "delta_p_fem", ""), ("p_wall_rel_l2", None, SOURCE_RANGE)]),
    "pipe": ("configs/sinusoidal_pipe_pinn.yaml", [
        ("velocity_rel_l2", None, "<= 1e-2"), ("u_rel_l2", None, SOURCE_RANGE), ("p_rel_l2", None, SOURCE_RANGE),
        ("flow_rate_outlet", "flow_rate_fem", ""), ("flow_rate_rel_err", None, "")]),
    "pipe_periodic": ("configs/sinusoidal_pipe_periodic_pinn.yaml", [
        ("velocity_rel_l2", None, "<= 1e-2"), ("u_rel_l2", None, SOURCE_RANGE), ("p_rel_l2", None, SOURCE_RANGE),
        ("flow_rate_outlet", "flow_rate_fem", ""), ("flow_rate_rel_err", None, "")]),
    "transient": ("configs/transient_poiseuille_startup_pinn.yaml", [
        ("u_rel_l2", None, "<= 5e-2"), ("velocity_rel_l2", None, SOURCE_RANGE), ("u_rel_l2_final", None, SOURCE_RANGE)]),
}


def finished_run(run_dir: Path, spec) -> bool:
    """True if ``run_dir`` holds a run of ``spec`` trained to its last step. Keys that do not
    change the trained weights (name, device, logging and checkpoint cadence) may differ."""
    from sciflow.api import load_run
    from sciflow.spec import load_spec

    if not (run_dir / "spec.yaml").exists():
        return False

    def weights_defining(sp):
        d = sp.model_dump()
        for key in ("name", "device"):
            d.pop(key, None)
        for key in ("tensorboard", "checkpoint_every", "log_every"):
            d["training"].pop(key, None)
        return d

    if weights_defining(load_spec(run_dir / "spec.yaml")) != weights_defining(spec):
        raise SystemExit(f"--reuse: {run_dir}/spec.yaml differs from the config; remove the run or drop --reuse")
    return load_run(run_dir).step >= sum(ph.steps for ph in spec.training.phases)


def run_case(case: str, scale: float, out_root: Path, reuse: bool = False) -> tuple[list[dict], dict]:
    from sciflow.api import evaluate, train
    from sciflow.spec import load_spec

    path, wanted = CASES[case]
    spec = load_spec(ROOT / path)
    overrides = [f"training.phases.{i}.steps={max(1, int(round(ph.steps * scale)))}"
                 for i, ph in enumerate(spec.training.phases)]
    overrides.append("training.tensorboard=false")
    # make the reference first so that its cost is not counted as training time
    from sciflow.api import build

    problem, _, _ = build(spec)
    problem.reference(progress=True)
    t0 = time.perf_counter()
    if reuse and finished_run(out_root / case, load_spec(ROOT / path, overrides=overrides)):
        run = out_root / case
    else:
        run = train(ROOT / path, overrides=overrides, out=out_root / case, progress=True, overwrite=True)
    wall = time.perf_counter() - t0
    metrics = evaluate(run, progress=True)
    device = machine()["device"]
    rows = []
    for key, ref_key, reference in wanted:
        rows.append({"case": f"{case} ({Path(path).stem})", "metric": key, "value": metrics[key],
                     "reference": metrics[ref_key] if ref_key else reference,
                     "train_seconds": metrics.get("train_seconds", wall), "device": device})
    return rows, {"wall_seconds_total": wall, "steps": overrides, "run": str(run)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--scale", type=float, default=1.0, help="multiplier of every phase's steps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench_pinn_cases"))
    ap.add_argument("--merge", action="store_true", help="keep the other cases' rows of an existing pinn_cases.json")
    ap.add_argument("--reuse", action="store_true", help="evaluate finished runs of the same spec instead of training")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows, runs = [], {}
    for case in args.cases:
        r, info = run_case(case, args.scale, Path(args.out), args.reuse)
        rows += r
        runs[case] = info
        print(markdown_table(r, ["case", "metric", "value", "reference", "train_seconds"]), flush=True)
    meta = {"machine": machine(), "scale": args.scale, "threads": args.threads, "runs": runs}
    if args.merge:
        import json

        old = ROOT / "benchmarks" / "results" / "pinn_cases.json"
        done = {r["case"] for r in rows}
        kept = [r for r in json.loads(old.read_text()) if r["case"] not in done] if old.exists() else []
        rows = kept + rows
        meta_old = old.with_suffix(".meta.json")
        if meta_old.exists():
            prev = json.loads(meta_old.read_text())
            meta["runs"] = {**prev.get("runs", {}), **runs}
            meta["previous_machine"] = prev.get("machine")
    md = ("# Hard-BC PINN cases (data-free) vs FEM / exact references\n\n"
          f"Machine: {meta['machine']['device']}, {args.threads} torch thread(s), load average "
          f"{meta['machine'].get('load_average')}; steps = configs x {args.scale}.\n\n"
          + markdown_table(rows, ["case", "metric", "value", "reference", "train_seconds", "device"]))
    write_results("pinn_cases", rows, meta, md)
    return rows


if __name__ == "__main__":
    main()
