"""Shared helpers for benchmark scripts: machine description, JSON + markdown output."""

from __future__ import annotations

import json
import os
import platform
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
