"""Torch threads on a busy machine: the cavity main job's training speed, quiet vs busy, 1 vs 2 threads.

Each row trains the cavity main job (``configs/cavity_re100_pinn.yaml``: 4×50 tanh, 2000 points,
hard BCs) for ``--steps`` Adam steps in a fresh process and reports steps per second from the
trainer's own clock (``elapsed_s`` in metrics.csv: setup and the FEM reference excluded).
"busy" runs one pure-Python spinning process beside it for the whole row, as a user's other
program would. ``auto`` is what a spec with ``threads: auto`` chooses in that condition.
The ratio column is each row's speed over the quiet row with the same threads.

    python benchmarks/threads.py --steps 300
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import machine, markdown_table, write_results  # noqa: E402

SPIN = "import time\nt = time.time() + {seconds}\nwhile time.time() < t:\n    pass\n"


def _train(threads: str, steps: int, workdir: Path) -> tuple[float, str]:
    """(steps per second, threads line printed by the run) of one fresh training process."""
    out = workdir / f"run_{threads}_{time.time_ns()}"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    cmd = [sys.executable, "-m", "sciflow", "train", str(ROOT / "configs" / "cavity_re100_pinn.yaml"),
           "--out", str(out), "--set", f"threads={threads}", "--set", "device=cpu",
           "--set", f"training.phases=[{{optimizer: adam, steps: {steps}, lr: 1.0e-3}}]",
           "--set", "training.tensorboard=false", "--set", "training.log_every=10"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if res.returncode:
        raise SystemExit(res.stderr[-2000:])
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    # skip the first logged block (allocator warm-up): speed over the rest
    (s0, t0), (s1, t1) = [(int(r["step"]), float(r["elapsed_s"])) for r in (rows[0], rows[-1])]
    line = next((ln for ln in res.stderr.splitlines() if "torch thread" in ln), "")
    return (s1 - s0) / (t1 - t0), line


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--name", default="threads")
    a = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _train("1", 20, tmp)  # make the FEM reference once, outside the timed rows
        for condition in ("quiet", "busy"):
            for threads in ("1", "2", "auto"):
                spinner = None
                if condition == "busy":
                    spinner = subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=3600)])
                    time.sleep(5)  # let the load average see it
                load = os.getloadavg()[0]
                try:
                    speed, line = _train(threads, a.steps, tmp)
                finally:
                    if spinner is not None:
                        spinner.kill()
                        spinner.wait()
                rows.append({"condition": condition, "threads": threads, "steps_per_s": speed,
                             "load_before": load, "chosen": line.split("device cpu, ")[-1]})
                print(rows[-1], flush=True)
    quiet = {r["threads"]: r["steps_per_s"] for r in rows if r["condition"] == "quiet"}
    for r in rows:
        r["vs_quiet_same_threads"] = r["steps_per_s"] / quiet[r["threads"]]
    meta = {**machine(), "steps": a.steps, "note": "other processes on the machine are not controlled: see load_before"}
    md = ("# Torch threads, quiet vs busy (cavity main job, Adam)\n\n"
          f"{a.steps} Adam steps per row, each in a fresh process; busy = one spinning Python process beside it. "
          f"Machine: {meta['cpu_count']} cores.\n\n"
          + markdown_table(rows, ["condition", "threads", "steps_per_s", "vs_quiet_same_threads", "load_before",
                                  "chosen"]))
    write_results(a.name, rows, meta, md)
    print(md)


if __name__ == "__main__":
    main()
