"""DyMixOp vs FNO vs IFNO on 2D periodic Navier-Stokes (ν = 1e-5), and FNO training throughput.

    python benchmarks/operators_ns2d.py [--steps 3000] [--subsample 2 1] [--rollout-steps 0] [--threads 1]
    python benchmarks/operators_ns2d.py --models dymixop --skip-throughput      # one model (runs/bench_ns2d/<model>_<grid>)
    python benchmarks/operators_ns2d.py --reuse --skip-throughput               # table from evaluated runs

Accuracy: each model (comparable real parameter counts) is trained through ``sciflow.train``
as a one-step operator (10 frames → 1, relative-L2 loss, Adam + cosine schedule, best checkpoint
on the validation split) on the train split of ``datasets/ns2d_nu1e-5_cpu.yaml`` and evaluated
by ``sciflow.evaluate``: a 10-frame autoregressive forecast (t = 10 … 19) of every test
trajectory, relative L2 in physical units.  Rows → ``results/operators_ns2d.json``.
``--rollout-steps 10`` trains on the whole 10-frame forecast unrolled instead (the FNO and DyMixOp
papers' protocol, 1000 training trajectories there).  On the CPU set (200 trajectories, so 400
ten-frame windows against 2,200 one-step pairs) it was worse: DyMixOp at 32², 1000 steps, test
0.244 unrolled against 0.197 one-step, validation 0.21 against training loss 0.17.

Measured (one CPU thread per model, two models at a time, 3000 steps; ``results/operators_ns2d.md``):
test relative L2 at 32² DyMixOp 0.162, FNO 0.210, IFNO 0.171 (DyMixOp/FNO 0.77; 0.81 at 1000
steps; 0.77 again at 6000 steps, DyMixOp 0.146 and FNO 0.190, ``--steps 6000 --models dymixop fno
--subsample 2``); at 64² DyMixOp 0.168, FNO 0.210, IFNO 0.168 (0.80).  The DyMixOp paper's margin (≤ 0.6×
FNO) is not reached at this data size (200 training trajectories against its 1000).

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


def spec_for(model: dict, steps: int, subsample: int, lr: float, validate_every: int, batch: int = 16,
             rollout_steps: int = 0):
    """The benchmark spec; ``rollout_steps`` k > 0 trains on k-step unrolled forecasts (objective
    ``rollout``), 0 on one-step teacher-forced pairs (objective ``supervised``)."""
    from sciflow.spec import spec_from_dict

    objective = ({"name": "rollout", "steps": rollout_steps, "batch_size": batch, "loss": "rel_l2"} if rollout_steps
                 else {"name": "supervised", "batch_size": batch, "loss": "rel_l2"})
    return spec_from_dict({
        "name": f"bench_ns2d_{model['name']}", "seed": 0, "device": "cpu",
        "problem": {"name": "ns2d", "dataset": "ns2d_nu1e-5_cpu", "t_in": 10, "horizon": 10, "subsample": subsample},
        "model": dict(model),
        "objective": objective,
        "training": {"phases": [{"optimizer": "adam", "steps": steps, "lr": lr, "schedule": "cosine",
                                 "final_lr_ratio": 0.02}],
                     "log_every": 25, "checkpoint_every": max(steps, 1), "validate_every": validate_every,
                     "tensorboard": False}})


def accuracy(args, workdir: Path) -> list[dict]:
    """Train (or, with ``--reuse``, read back) and evaluate each of ``--models``; one row each."""
    from sciflow.api import evaluate, train
    from sciflow.spec import load_spec

    rows = []
    for sub in args.subsample:
        for key in args.models:
            spec = spec_for(MODELS[key], args.steps, sub, args.lr, args.validate_every,
                            rollout_steps=args.rollout_steps)
            run_dir = workdir / f"{key}_{64 // sub}"
            done = run_dir / "evaluation" / "metrics.json"
            if args.reuse and done.exists():
                if load_spec(run_dir / "spec.yaml").model_dump() != spec.model_dump():
                    raise SystemExit(f"--reuse: {run_dir}/spec.yaml differs from this benchmark's spec; remove the run")
                m = json.loads(done.read_text())
            else:
                m = evaluate(train(spec, out=run_dir, progress=True, overwrite=True), progress=False)
            rows.append({"model": key, "params": m["parameters"], "dataset": f"ns2d_nu1e-5_cpu ({64 // sub}^2)",
                         "test_rel_l2": m["test_rel_l2"], "train_seconds": m["train_seconds"], "device": "cpu",
                         "final_rel_l2": m["final_rel_l2"], "decorrelation_time": m["decorrelation_time"],
                         "spectrum_error": m["spectrum_error"], "checkpoint": m["checkpoint"], "steps": args.steps,
                         **{k: m.get(k) for k in ("spectrum_rollout_error", "enstrophy_rel_err", "energy_rel_err",
                                                  "autocorrelation_time_true", "autocorrelation_time_pred")},
                         "objective": f"rollout {args.rollout_steps}" if args.rollout_steps else "one-step"})
            print(json.dumps(rows[-1]), flush=True)
    return rows


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
    ap.add_argument("--steps", type=int, default=3000, help="training steps per model")
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
    ap.add_argument("--out", default="runs/bench_ns2d", help="run directories, one per model")
    ap.add_argument("--reuse", action="store_true", help="read back models already evaluated under --out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    from common import RESULTS

    from sciflow.data.io import atomic_write_text, json_ready

    meta = {"machine": machine(), "args": vars(args)}
    if args.skip_throughput:
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
    rows = accuracy(args, Path(args.out))
    meta["machine"]["load_average_end"] = machine().get("load_average")
    md = ("# DyMixOp vs FNO vs IFNO, 2D NS ν = 1e-5 (CPU set), 10 → 10 autoregressive test forecast\n\n"
          + markdown_table(rows, ["model", "params", "dataset", "objective", "test_rel_l2", "final_rel_l2",
                                  "decorrelation_time", "spectrum_error", "spectrum_rollout_error", "enstrophy_rel_err",
                                  "train_seconds", "steps", "device"])
          + f"\nThroughput (FNO, batch 16): sciflow {tp['sciflow_steps_per_s']:.2f} steps/s, neuralop Trainer "
            f"{tp['neuralop_steps_per_s']:.2f} steps/s, ratio {tp['ratio']:.2f}.\n")
    write_results("operators_ns2d", rows, meta, md)
    print(md)


if __name__ == "__main__":
    main()
