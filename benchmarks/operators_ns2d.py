"""DyMixOp vs FNO vs IFNO on 2D periodic Navier-Stokes (ν = 1e-5), and FNO training throughput.

    python benchmarks/operators_ns2d.py [--steps 3000] [--subsample 2 1] [--rollout-steps 0] [--threads 1]
    python benchmarks/operators_ns2d.py --models dymixop fno --steps 1000 3000 6000 --train-trajectories 200 1000
        --skip-throughput                                             # budget and data-size trend (one command)
    python benchmarks/operators_ns2d.py --reuse --skip-throughput     # table from evaluated runs
    python benchmarks/operators_ns2d.py --table-only                  # .md from the rows in the .json

Accuracy: each model (comparable real parameter counts) is trained through ``sciflow.train``
as a one-step operator (10 frames → 1, relative-L2 loss, Adam + cosine schedule, best checkpoint
on the validation split) on the train split of ``datasets/ns2d_nu1e-5_cpu.yaml`` (200 training
trajectories) or ``datasets/ns2d_nu1e-5_cpu_1000.yaml`` (1000; ``--train-trajectories``) and
evaluated by ``sciflow.evaluate``: a 10-frame autoregressive forecast (t = 10 … 19) of every test
trajectory, relative L2 in physical units.  The 1000-trajectory set extends the 200 one (recipe
param ``extends``): its validation and test trajectories are the same, bit for bit, so every row
is measured on one test set.  One run per (model, grid, training trajectories, steps, objective)
under ``--out``: ``<model>_<grid>_n<trajectories>_s<steps>[_r<k>]``.
``--rollout-steps 10`` trains on the whole 10-frame forecast unrolled instead (the FNO and DyMixOp
papers' protocol).

Results: rows → ``results/operators_ns2d.json`` (model, test_rel_l2, train_seconds, params,
train_trajectories, objective, steps, … and the 1-minute load average when training ended);
each call replaces the rows it measured and keeps the others.  ``results/operators_ns2d.md`` has a
trend table per (grid, training trajectories, steps): DyMixOp, FNO, IFNO and DyMixOp/FNO, with
the measured distance to the DyMixOp paper's margin (DyMixOp ≤ 0.6× FNO), then every row.

Throughput: the same FNO (same initial weights), the same batches (batch 16 of the same train
windows) and Adam, trained for ``--throughput-steps`` steps by sciflow's Trainer and by
``neuralop.training.Trainer``; runs are interleaved (alternating which goes first) and the medians of ``--repeats`` are kept.
sciflow's time is its step loop (data gathering, forward, backward, optimiser step);
neuralop's is the epoch time its Trainer reports (the same work).  → ``results/fno_throughput.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, markdown_table, write_results  # noqa: E402

MODELS = {
    "dymixop": {"name": "dymixop", "width": 12, "modes": 8, "layers": 4},
    "fno": {"name": "fno", "width": 12, "modes": 8, "layers": 4},
    "ifno": {"name": "ifno", "width": 24, "modes": 8, "iterations": 4},
}


# training trajectories → dataset recipe; the 1000 set extends the 200 one (same validation and test trajectories)
DATASETS = {200: "ns2d_nu1e-5_cpu", 1000: "ns2d_nu1e-5_cpu_1000"}
BAR = 0.6  # the DyMixOp paper's margin: test rel. L2 <= 0.6 x FNO's


def spec_for(model: dict, steps: int, subsample: int, lr: float, validate_every: int, batch: int = 16,
             rollout_steps: int = 0, dataset: str = DATASETS[200]):
    """The benchmark spec; ``rollout_steps`` k > 0 trains on k-step unrolled forecasts (objective
    ``rollout``), 0 on one-step teacher-forced pairs (objective ``supervised``)."""
    from sciflow.spec import spec_from_dict

    objective = ({"name": "rollout", "steps": rollout_steps, "batch_size": batch, "loss": "rel_l2"} if rollout_steps
                 else {"name": "supervised", "batch_size": batch, "loss": "rel_l2"})
    return spec_from_dict({
        "name": f"bench_ns2d_{model['name']}", "seed": 0, "device": "cpu",
        "problem": {"name": "ns2d", "dataset": dataset, "t_in": 10, "horizon": 10, "subsample": subsample},
        "model": dict(model),
        "objective": objective,
        "training": {"phases": [{"optimizer": "adam", "steps": steps, "lr": lr, "schedule": "cosine",
                                 "final_lr_ratio": 0.02}],
                     "log_every": 25, "checkpoint_every": max(steps, 1), "validate_every": validate_every,
                     "tensorboard": False}})


def run_name(key: str, subsample: int, trajectories: int, steps: int, rollout_steps: int) -> str:
    return f"{key}_{64 // subsample}_n{trajectories}_s{steps}" + (f"_r{rollout_steps}" if rollout_steps else "")


def accuracy(args, workdir: Path) -> list[dict]:
    """Train (or, with ``--reuse``, read back) and evaluate each of ``--models`` at every
    (``--train-trajectories``, ``--steps``, ``--subsample``); one row each."""
    import os

    from sciflow.api import evaluate, train
    from sciflow.spec import load_spec

    rows = []
    objective = f"rollout {args.rollout_steps}" if args.rollout_steps else "one-step"
    for n_traj in args.train_trajectories:
        for steps in args.steps:
            for sub in args.subsample:
                for key in args.models:
                    spec = spec_for(MODELS[key], steps, sub, args.lr, args.validate_every,
                                    rollout_steps=args.rollout_steps, dataset=DATASETS[n_traj])
                    run_dir = workdir / run_name(key, sub, n_traj, steps, args.rollout_steps)
                    done, load_file = run_dir / "evaluation" / "metrics.json", run_dir / "load_average.json"
                    if args.reuse and done.exists():
                        if load_spec(run_dir / "spec.yaml").model_dump() != spec.model_dump():
                            raise SystemExit(f"--reuse: {run_dir}/spec.yaml differs from this benchmark's spec; "
                                             f"remove the run")
                        m = json.loads(done.read_text())
                    else:
                        trained = train(spec, out=run_dir, progress=True, overwrite=True)
                        load_file.write_text(json.dumps(list(os.getloadavg())))  # when training ended
                        m = evaluate(trained, progress=False)
                    load = json.loads(load_file.read_text())[0] if load_file.exists() else None
                    grid = f"{64 // sub}^2"
                    rows.append({"model": key, "test_rel_l2": m["test_rel_l2"], "train_seconds": m["train_seconds"],
                                 "params": m["parameters"], "train_trajectories": n_traj, "objective": objective,
                                 "steps": steps, "grid": grid, "dataset": f"{DATASETS[n_traj]} ({grid})",
                                 "device": "cpu", "load_average": load,
                                 "final_rel_l2": m["final_rel_l2"], "decorrelation_time": m["decorrelation_time"],
                                 "spectrum_error": m["spectrum_error"], "checkpoint": m["checkpoint"],
                                 **{k: m.get(k) for k in ("spectrum_rollout_error", "enstrophy_rel_err",
                                                          "energy_rel_err", "autocorrelation_time_true",
                                                          "autocorrelation_time_pred")}})
                    print(json.dumps(rows[-1]), flush=True)
    return rows


def row_key(row: dict) -> tuple:
    """What a row measures: rows with one key replace each other."""
    return (row["model"], row["grid"], row["train_trajectories"], row["steps"], row["objective"])


def merged_rows(new: list[dict], old: list[dict]) -> list[dict]:
    """``old`` rows not measured again, then ``new``, ordered by grid, objective, data size, steps, model."""
    keys = {row_key(r) for r in new}
    rows = [r for r in old if row_key(r) not in keys] + list(new)
    order = list(MODELS)
    return sorted(rows, key=lambda r: (int(r["grid"].split("^")[0]), r["objective"] != "one-step", r["objective"],
                                       r["train_trajectories"], r["steps"],
                                       order.index(r["model"]) if r["model"] in order else len(order)))


def trend_md(rows: list[dict]) -> str:
    """Per (grid, objective, training trajectories, steps): each model's test rel. L2 and DyMixOp/FNO,
    then the measured distance to the bar and the trend with budget and data size."""
    cells: dict[tuple, dict] = {}
    for r in rows:
        cells.setdefault((r["grid"], r["objective"], r["train_trajectories"], r["steps"]), {})[r["model"]] = r
    table, pairs = [], []
    for (grid, objective, n_traj, steps), by in sorted(cells.items(), key=lambda kv: (
            int(kv[0][0].split("^")[0]), kv[0][1] != "one-step", kv[0][1], kv[0][2], kv[0][3])):
        d, f = by.get("dymixop"), by.get("fno")
        ratio = d["test_rel_l2"] / f["test_rel_l2"] if d and f else None
        table.append({"grid": grid, "objective": objective, "train_trajectories": n_traj, "steps": steps,
                      **{m: by[m]["test_rel_l2"] if m in by else "" for m in MODELS},
                      "dymixop/fno": ratio if ratio is not None else "",
                      "params dymixop/fno": (d["params"] / f["params"]) if d and f else "",
                      **{f"{m} train_s": by[m]["train_seconds"] if m in by and by[m]["train_seconds"] else ""
                         for m in ("dymixop", "fno")}})
        if ratio is not None:
            pairs.append((ratio, grid, objective, n_traj, steps, d, f))
    out = ["## Trend with training steps and training trajectories (test rel. L2, one test set)\n",
           "Budget: training steps of batch 16, the same for every model; a DyMixOp step costs more CPU time than "
           "an FNO step (the train_s columns, one thread each).\n",
           markdown_table(table, ["grid", "objective", "train_trajectories", "steps", *MODELS, "dymixop/fno",
                                  "params dymixop/fno", "dymixop train_s", "fno train_s"])]
    if pairs:
        best = min(pairs, key=lambda p: p[0])
        ratio, grid, objective, n_traj, steps, d, f = best
        target = BAR * f["test_rel_l2"]
        if ratio <= BAR:
            verdict = (f"Bar (DyMixOp ≤ {BAR}× FNO at equal budget): met at {grid}, {n_traj} training trajectories, "
                       f"{steps} steps ({objective}): ratio {ratio:.2f}.")
        else:
            verdict = (f"Bar (DyMixOp ≤ {BAR}× FNO at equal budget): not met. The best ratio is {ratio:.2f} "
                       f"({grid}, {n_traj} training trajectories, {steps} steps, {objective}), {ratio / BAR:.2f}× the "
                       f"bar: DyMixOp's {d['test_rel_l2']:.3f} would have to be {target:.3f} "
                       f"({100 * (1 - target / d['test_rel_l2']):.0f} % lower) against FNO's {f['test_rel_l2']:.3f}.")
        lines = [verdict, f"Parameters: DyMixOp {d['params']}, FNO {f['params']} "
                          f"({100 * (d['params'] / f['params'] - 1):+.1f} %)."]
        # pairs: (ratio, grid, objective, trajectories, steps); a trend varies one of the last two
        for fixed, varied, head, each, tail in ((3, 4, "Budget trend at {grid}, {k} training trajectories", "at", "steps"),
                                                (4, 3, "Data-size trend at {grid}, {k} steps", "with",
                                                 "training trajectories")):
            groups: dict[tuple, list] = {}
            for p in pairs:
                groups.setdefault((p[1], p[2], p[fixed]), []).append(p)
            for (grid, objective, k), ps in groups.items():
                if len(ps) > 1:
                    lines.append(head.format(grid=grid, k=k) + f" ({objective}): DyMixOp/FNO "
                                 + ", ".join(f"{p[0]:.2f} {each} {p[varied]}" for p in sorted(ps, key=lambda p: p[varied]))
                                 + f" {tail}.")
        out.append("\n\n".join(lines) + "\n")
    return "\n".join(out)


def notes_md(rows: list[dict]) -> str:
    """The rows' notes, each once, with the rows it belongs to."""
    notes: dict[str, list[str]] = {}
    for r in rows:
        if r.get("note"):
            notes.setdefault(r["note"], []).append(f"{r['model']} {r['grid']} {r['train_trajectories']} trajectories "
                                                   f"{r['objective']} {r['steps']} steps")
    return "".join(f"\n{'; '.join(which)}: {note}.\n" for note, which in notes.items())


def throughput(args, workdir: Path) -> dict:
    from neuralop.training import Trainer as NeuralopTrainer

    from sciflow.api import build, train
    from sciflow.training.operator_objectives import relative_error

    n = args.throughput_steps
    spec = spec_for(MODELS["fno"], n, args.subsample[0], 1e-3, 0).model_copy(deep=True)
    spec.training.phases[0].schedule = "constant"
    torch.manual_seed(0)
    problem, model, _ = build(spec)
    init = copy.deepcopy(model.state_dict())
    windows = problem.dataset("train", t_out=1, stride=1)

    class Dicts(torch.utils.data.Dataset):
        def __len__(self):
            return n * 16

        def __getitem__(self, i):
            x, y = windows[i]
            return {"x": x, "y": y}

    def loss_fn(out, y=None, **_):
        return relative_error(out, y).mean()

    sc, nl = [], []

    def run_neuralop(rep):
        net = copy.deepcopy(model)
        net.load_state_dict(init)
        fno = net.net  # the neuralop FNO itself
        loader = torch.utils.data.DataLoader(Dicts(), batch_size=16, shuffle=True, drop_last=True,
                                             generator=torch.Generator().manual_seed(rep))
        opt = torch.optim.Adam(fno.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10**9)
        trainer = NeuralopTrainer(model=fno, n_epochs=1, device="cpu", verbose=False)
        t0 = time.perf_counter()
        trainer.train(loader, {}, opt, sched, training_loss=loss_fn)
        nl.append(n / (time.perf_counter() - t0))

    def run_sciflow(rep):
        import csv

        run = train(spec, out=workdir / f"throughput_{rep}", progress=False, overwrite=True)
        with open(run / "metrics.csv") as f:
            elapsed = [float(r["elapsed_s"]) for r in csv.DictReader(f)][-1]
        sc.append(n / elapsed)

    for rep in range(args.repeats):  # interleaved, alternating which goes first
        order = (run_neuralop, run_sciflow) if rep % 2 == 0 else (run_sciflow, run_neuralop)
        for fn in order:
            fn(rep)
        print(f"throughput repeat {rep}: sciflow {sc[-1]:.2f} steps/s, neuralop {nl[-1]:.2f} steps/s", flush=True)
    import statistics

    med_sc, med_nl = statistics.median(sc), statistics.median(nl)
    return {"sciflow_steps_per_s": med_sc, "neuralop_steps_per_s": med_nl, "ratio": med_sc / med_nl,
            "all_sciflow": sc, "all_neuralop": nl, "steps": n, "batch": 16,
            "grid": f"{64 // args.subsample[0]}^2", "model": MODELS["fno"],
            "params": __import__("sciflow.models.baselines", fromlist=["x"]).real_parameter_count(model)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--steps", type=int, nargs="+", default=[3000], help="training steps per model, one or more")
    ap.add_argument("--train-trajectories", type=int, nargs="+", default=[200], choices=sorted(DATASETS),
                    help="training-set size(s): 200 (datasets/ns2d_nu1e-5_cpu) or 1000 (ns2d_nu1e-5_cpu_1000), "
                         "one test set")
    ap.add_argument("--rollout-steps", type=int, default=0,
                    help="train on k-step unrolled forecasts (10: the whole test horizon, as the FNO and DyMixOp "
                         "papers do); 0: one-step teacher forcing")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--validate-every", type=int, default=100)
    ap.add_argument("--subsample", type=int, nargs="+", default=[2], help="64^2 data → (64/k)^2, one or more k")
    ap.add_argument("--throughput-steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true", help="keep the existing fno_throughput.json")
    ap.add_argument("--out", default="runs/bench_ns2d", help="run directories, one per model and setting")
    ap.add_argument("--reuse", action="store_true", help="read back models already evaluated under --out")
    ap.add_argument("--table-only", action="store_true",
                    help="rewrite results/operators_ns2d.md from the rows in results/operators_ns2d.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    from common import RESULTS

    from sciflow.data.io import atomic_write_text, json_ready

    meta = {"machine": machine(), "args": vars(args)}
    if args.skip_throughput or args.table_only:
        tp = json.loads((RESULTS / "fno_throughput.json").read_text())
    else:
        with tempfile.TemporaryDirectory() as tmp:
            tp = throughput(args, Path(tmp))
        RESULTS.mkdir(parents=True, exist_ok=True)
        atomic_write_text(RESULTS / "fno_throughput.json", json.dumps(json_ready({**tp, "meta": meta}), indent=2))
        atomic_write_text(RESULTS / "fno_throughput.md", markdown_table(
            [{k: tp[k] for k in ("sciflow_steps_per_s", "neuralop_steps_per_s", "ratio", "grid", "batch", "params")}],
            ["sciflow_steps_per_s", "neuralop_steps_per_s", "ratio", "grid", "batch", "params"]))
    if args.skip_accuracy:
        return
    rows = [] if args.table_only else accuracy(args, Path(args.out))
    meta["machine"]["load_average_end"] = machine().get("load_average")
    if args.table_only and (RESULTS / "operators_ns2d.meta.json").exists():  # the meta of the last measuring call
        meta = json.loads((RESULTS / "operators_ns2d.meta.json").read_text())
    import fcntl

    with open(Path(tempfile.gettempdir()) / "sciflow_operators_ns2d.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # calls running side by side merge their rows one at a time
        path = RESULTS / "operators_ns2d.json"
        rows = merged_rows(rows, json.loads(path.read_text()) if path.exists() else [])
        md = ("# DyMixOp vs FNO vs IFNO, 2D NS ν = 1e-5 (CPU sets), 10 → 10 autoregressive test forecast\n\n"
              + trend_md(rows)
              + "\n## All runs\n\n"
              + markdown_table([{k: "" if v is None else v for k, v in r.items()} for r in rows],
                               ["model", "params", "dataset", "train_trajectories", "objective", "steps",
                                "test_rel_l2", "final_rel_l2", "decorrelation_time", "spectrum_error",
                                "spectrum_rollout_error", "enstrophy_rel_err", "train_seconds", "load_average",
                                "device"])
              + "\nload_average: the machine's 1-minute load average when the training ended (one thread per "
                "model); train_seconds grow with it.\n"
              + notes_md(rows)
              + f"\nThroughput (FNO, batch 16): sciflow {tp['sciflow_steps_per_s']:.2f} steps/s, neuralop Trainer "
                f"{tp['neuralop_steps_per_s']:.2f} steps/s, ratio {tp['ratio']:.2f}.\n")
        write_results("operators_ns2d", rows, meta, md)
    print(md)


if __name__ == "__main__":
    main()
