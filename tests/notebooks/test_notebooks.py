"""Notebooks run end to end (on a tiny run) through the public API."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from sciflow.api import train
from sciflow.spec import spec_from_dict

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _run_notebook(name, env_run, monkeypatch):
    monkeypatch.setenv("SCIFLOW_NOTEBOOK_RUN", str(env_run))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS.parent)}}).execute()
    return nb


def test_cavity_notebook_executes(tmp_path, monkeypatch):
    spec = spec_from_dict({
        "name": "nb_cavity", "problem": {"name": "cavity", "Re": 100, "reference_mesh": 16, "reference_grid": 33},
        "model": {"name": "pinn", "width": 16, "depth": 2},
        "objective": {"name": "physics", "interior_points": 256},
        "training": {"phases": [{"optimizer": "adam", "steps": 30}], "log_every": 5, "tensorboard": False}})
    run = train(spec, out=tmp_path / "run", progress=False)
    nb = _run_notebook("01_cavity_pinn.ipynb", run, monkeypatch)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert (run / "evaluation" / "metrics.json").exists()
