"""Channel surrogates against the LES, timed in one process, interleaved: seconds per h/u_τ per trajectory.

Usage::

    python benchmarks/channel_speed.py --runs runs/bench_channel/ifactformer_m_rollout_balance ... \
        [--steps 30] [--les-steps 100] [--repeats 5] [--threads 1]

For each trained run (weights of ``checkpoints/best.pt``): the autoregressive forecast of its 8 test states as
one batch, no grad, each state through the rollout constraint layer of the run's ``evaluation.constraints``
(what the channel evaluator times, without its statistics bookkeeping; the allocator set as in training and
``sciflow evaluate``, :func:`sciflow.training.allocator.keep_freed_memory`), against the Smagorinsky LES on the
same resolved scales at ``LES_DT`` (:func:`sciflow.evaluation.channel_eval.les_seconds_per_time_unit`).
Each repeat times every run and then the LES, so a change of the machine's load reaches both; the
speed-up of a repeat is LES s / surrogate s, reported as the median and the smallest over repeats, with
the 1-min load average before and after. ``channel_surrogates.py`` times each run once, at whatever load
its training left; this benchmark is the one to read for the speed bar.
Results: ``benchmarks/results/channel_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import machine, markdown_table, write_results  # noqa: E402
from sciflow.api import load_run  # noqa: E402
from sciflow.errors import SciflowError  # noqa: E402
from sciflow.evaluation.channel_eval import les_seconds_per_time_unit  # noqa: E402
from sciflow.evaluation.channel_les_rollout import LES_DT  # noqa: E402
from sciflow.models.state_projection import state_projection  # noqa: E402
from sciflow.training.allocator import keep_freed_memory  # noqa: E402
from sciflow.training.unroll import rollout  # noqa: E402


class TimedSurrogate:
    """One run's forecast of its test states: ``seconds_per_time_unit(steps)`` per h/u_τ and per trajectory."""

    def __init__(self, path: Path):
        self.run = load_run(path, "best.pt")
        problem = self.run.problem
        if problem.name != "channel":
            raise SciflowError(f"--runs {path}: a run of problem '{problem.name}', not of the channel")
        test = problem.dataset("test", t_out=1, stride=None)
        self.x0 = torch.stack([test[i][0] for i in range(len(test))])  # (B, t_in, X, Y, Z, 3)
        constraints = self.run.spec.to_dict().get("evaluation", {}).get("constraints")
        self.project = state_projection(problem, problem.dataset("test", t_out=1, stride=1), constraints)
        self.constraints = list(constraints) if constraints else "none"
        self.dt = float(problem.reference(progress=False).attrs["dt_snapshot"])

    def seconds_per_time_unit(self, steps: int) -> float:
        with torch.no_grad():
            rollout(self.run.model, self.x0, 1, project=self.project)  # warm-up
            t0 = time.perf_counter()
            rollout(self.run.model, self.x0, steps, project=self.project)
            sec = time.perf_counter() - t0
        return sec / steps / self.x0.shape[0] / self.dt


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", nargs="+", required=True, help="trained channel run directories")
    ap.add_argument("--steps", type=int, default=30, help="surrogate steps per timing")
    ap.add_argument("--les-steps", type=int, default=100, help="LES steps per timing")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    malloc = keep_freed_memory()  # as training and `sciflow evaluate` do, for the surrogates and the LES alike
    try:
        surrogates = {p: TimedSurrogate(Path(p)) for p in a.runs}
    except SciflowError as exc:
        sys.exit(f"channel_speed: {exc}")
    ds = next(iter(surrogates.values())).run.problem.reference(progress=False)
    load_before = os.getloadavg()[0]
    times = {p: [] for p in a.runs}
    les = []
    from tqdm.auto import tqdm

    for _ in tqdm(range(a.repeats), desc="repeats (every run, then the LES)"):
        for p, s in surrogates.items():
            times[p].append(s.seconds_per_time_unit(a.steps))
        les.append(les_seconds_per_time_unit(ds, "cpu", LES_DT, steps=a.les_steps))
    load_after = os.getloadavg()[0]
    rows = []
    for p, s in surrogates.items():
        ratios = [t_les / t for t_les, t in zip(les, times[p])]
        spec = s.run.spec.to_dict()
        rows.append({"config": spec["name"], "seed": spec["seed"], "run": p, "constraints": s.constraints,
                     "seconds_per_time_unit": statistics.median(times[p]),
                     "les_seconds_per_time_unit": statistics.median(les),
                     "speedup_vs_les": statistics.median(ratios), "speedup_vs_les_min": min(ratios),
                     "trajectories": int(s.x0.shape[0]), "steps": a.steps, "les_steps": a.les_steps,
                     "les_dt": LES_DT, "repeats": a.repeats, "threads": a.threads,
                     "load_average_1min": [round(load_before, 2), round(load_after, 2)]})
    meta = {"machine": machine(), "threads": a.threads, "repeats": a.repeats, "malloc": malloc}
    head = (f"# Channel surrogates vs the Smagorinsky LES, timed interleaved in one process\n\n"
            f"`python benchmarks/channel_speed.py --runs ...`; {a.repeats} repeats, {a.threads} thread(s), 1-min load "
            f"average {load_before:.2f} before and {load_after:.2f} after. seconds_per_time_unit: wall seconds per "
            f"h/u_tau per trajectory (median over repeats); speedup_vs_les: median of the repeats' LES/surrogate "
            f"ratios, speedup_vs_les_min the smallest.\n\n")
    cols = ["config", "seed", "constraints", "seconds_per_time_unit", "les_seconds_per_time_unit",
            "speedup_vs_les", "speedup_vs_les_min"]
    write_results("channel_speed", rows, meta, head + markdown_table(rows, cols))
    print(markdown_table(rows, cols))


if __name__ == "__main__":
    main()
