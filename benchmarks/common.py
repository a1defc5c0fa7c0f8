"""Shared helpers for benchmark scripts: machine description, JSON + markdown output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    import torch

    info = {"cpu_count": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "python": platform.python_version(), "platform": platform.platform(),
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        info["load_average"] = list(os.getloadavg())
    except OSError:
        pass
    return info


def write_results(name: str, rows, meta: dict, table_md: str):
    """benchmarks/results/<name>.json (rows + meta) and <name>.md (the table), atomically."""
    from sciflow.data.io import atomic_write_text, json_ready

    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / f"{name}.json", json.dumps(json_ready(rows), indent=2))
    atomic_write_text(RESULTS / f"{name}.meta.json", json.dumps(json_ready(meta), indent=2))
    atomic_write_text(RESULTS / f"{name}.md", table_md)


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


LOAD_SAMPLE_SECONDS = 60


class LoadSampler:
    """Appends ``unix_time,1-min load average`` to ``path`` every ``every`` seconds while in use."""

    def __init__(self, path: Path, every: float = LOAD_SAMPLE_SECONDS):
        import threading

        self.path, self.every, self.done = path, every, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as f:
                f.write(f"{time.time():.0f},{os.getloadavg()[0]:.2f}\n")
            if self.done.wait(self.every):
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


def load_file(run_dir: Path) -> Path:
    """Where the load samples of a run go: ``<run>.loadavg.csv`` beside its directory."""
    return run_dir.parent / f"{run_dir.name}.loadavg.csv"


def training_load(run_dir: Path) -> str | None:
    """'median (min-max), n samples' of ``<run>.loadavg.csv``; None when the run has no samples."""
    path = load_file(run_dir)
    if not path.exists():
        return None
    loads = [float(line.split(",")[1]) for line in path.read_text().splitlines() if line.strip()]
    if not loads:
        return None
    return f"{statistics.median(loads):.1f} ({min(loads):.1f}-{max(loads):.1f}), {len(loads)} samples"
