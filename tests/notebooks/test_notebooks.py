"""Notebooks run end to end (on a tiny run) through the public API."""

from pathlib import Path

import nbformat
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


def test_lpinn_notebook_executes(tmp_path, monkeypatch):
    import json

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        spec = spec_from_dict({
            "name": "nb_lpinn", "dtype": "float64",
            "problem": {"name": "convection", "c": 10.0, "reference_nx": 64, "reference_nt": 20},
            "model": {"name": "lpinn", "width": 8, "depth": 2, "lagrangian_points": 256},
            "objective": {"name": "lagrangian", "interior_points": 128},
            "training": {"phases": [{"optimizer": "adam", "steps": 20, "lr": 1e-2}], "log_every": 5,
                         "tensorboard": False}})
        run = train(spec, out=tmp_path / "run", progress=False)
    finally:
        torch.set_num_threads(threads)
    nb = _run_notebook("05_lpinn.ipynb", run, monkeypatch)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert metrics["model"] == "lpinn" and 0 <= metrics["rel_l2"] < 2


def test_probconserv_notebook_executes(tmp_path, monkeypatch):
    import json

    spec = spec_from_dict({
        "name": "nb_probconserv", "problem": {"name": "gpme_stefan"},
        "model": {"name": "probconserv", "hidden": 16, "heads": 2, "self_attention_layers": 1, "samples": 4},
        "objective": {"name": "likelihood", "batch_size": 4, "validation_functions": 2, "validation_grid": 6},
        "training": {"phases": [{"optimizer": "adam", "steps": 3}], "log_every": 1, "tensorboard": False},
        "evaluation": {"grid": [21, 41], "functions": 2, "samples": 4}})
    run = train(spec, out=tmp_path / "run", progress=False)
    nb = _run_notebook("06_probconserv.ipynb", run, monkeypatch)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert json.loads((run / "evaluation" / "metrics.json").read_text())["grid/ProbConserv/conservation_error_max"] <= 1e-12


def test_cylinder_notebook_executes(tmp_path, monkeypatch):
    import json

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        spec = spec_from_dict({
            "name": "nb_cylinder", "problem": {"name": "dfg_cylinder", "reference_n_cyl": 24, "reference_h_max": 0.08},
            "model": {"name": "pinn", "width": 16, "depth": 2},
            "objective": {"name": "physics", "interior_points": 256},
            "training": {"phases": [{"optimizer": "adam", "steps": 10}], "log_every": 5, "tensorboard": False}})
        run = train(spec, out=tmp_path / "run", progress=False)
    finally:
        torch.set_num_threads(threads)
    nb = _run_notebook("02_cylinder_pinn.ipynb", run, monkeypatch)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    # the coarse FEM reference's drag is within 2 % of the DFG value 5.5795 (Schaefer & Turek 1996)
    assert abs(metrics["c_D_fem"] / 5.5795 - 1) < 0.02 and metrics["problem"] == "dfg_cylinder"


def test_ns2d_operators_notebook_executes(tmp_path, monkeypatch):
    import json

    spec = spec_from_dict({
        "name": "nb_ns2d", "problem": {"name": "ns2d", "dataset": "ns2d_nu1e-5_cpu", "t_in": 2, "horizon": 3,
                                       "params": {"n_train": 4, "n_validation": 2, "n_test": 2, "T": 6,
                                                  "resolution": 16, "solve_resolution": 16, "batch_size": 8}},
        "model": {"name": "dymixop", "width": 4, "modes": 3, "layers": 2},
        "objective": {"name": "rollout", "steps": 2, "batch_size": 4},
        "training": {"phases": [{"optimizer": "adam", "steps": 3}], "log_every": 1, "validate_every": 3,
                     "tensorboard": False}})
    run = train(spec, out=tmp_path / "run", progress=False)
    nb = _run_notebook("03_ns2d_operators.ipynb", run, monkeypatch)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert metrics["model"] == "dymixop" and 0 < metrics["test_rel_l2"] < 10


def test_channel_ifactformer_notebook_executes(tmp_path, monkeypatch):
    import json

    spec = spec_from_dict({
        "name": "nb_channel", "problem": {"name": "channel", "dataset": "channel_retau180_cpu", "t_in": 1,
                                          "horizon": 2,
                                          "params": {"spinup": 0.1, "n_snapshots": 4, "snapshot_every": 80, "gap": 0,
                                                     "nx": 16, "ny": 24, "nz": 16, "coarse": [8, 13, 8],
                                                     "n_trajectories": 3}},
        "model": {"name": "ifactformer", "variant": "m", "dim": 8, "heads": 1, "dim_head": 8, "iterations": 2,
                  "fourier_features": 4},
        "objective": {"name": "supervised", "batch_size": 2, "loss": "rel_l2"},
        "training": {"phases": [{"optimizer": "adam", "steps": 20}], "log_every": 5, "tensorboard": False},
        "evaluation": {"rollout_steps": 5}})
    run = train(spec, out=tmp_path / "run", progress=False)
    nb = _run_notebook("04_channel_ifactformer.ipynb", run, monkeypatch)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert metrics["model"] == "ifactformer" and 0 < metrics["one_step_rel_l2"] < 10
