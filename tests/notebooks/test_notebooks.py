"""Every notebook in notebooks/ runs end to end where Jupyter starts it: kernel cwd ``notebooks/``.

A notebook that explores a finished run gets a tiny one here (``TINY_RUNS``: its spec and a check of
the metrics its evaluation wrote), passed through ``$SCIFLOW_NOTEBOOK_RUN``; any other notebook in
the folder runs as it is, so it must be quick on its own.
"""

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from sciflow.api import train
from sciflow.spec import spec_from_dict

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _cavity(m):
    assert 0 < m["velocity_rel_l2"] < 10 and 0 < m["ghia_u_max_dev"] < 10


def _cavity_parametric(m):
    # evaluation/ is the run at its spec's Re (the range's top); the notebook evaluated 100, 250, 400 beside it
    assert m["params"] == {"Re": 400.0} and 0 < m["velocity_rel_l2"] < 10


def _cylinder(m):
    # the coarse FEM reference's drag is within 2 % of the DFG value 5.5795 (Schaefer & Turek 1996)
    assert abs(m["c_D_fem"] / 5.5795 - 1) < 0.02 and m["problem"] == "dfg_cylinder"


def _ns2d(m):
    assert m["model"] == "dymixop" and 0 < m["test_rel_l2"] < 10


def _channel(m):
    assert m["model"] == "ifactformer" and 0 < m["one_step_rel_l2"] < 10


def _lpinn(m):
    assert m["model"] == "lpinn" and 0 <= m["rel_l2"] < 2


def _probconserv(m):
    assert m["grid/ProbConserv/conservation_error_max"] <= 1e-12


#: notebook → (tiny spec of the run it explores, check of that run's evaluation/metrics.json)
TINY_RUNS = {
    "01_cavity_pinn.ipynb": ({
        "name": "nb_cavity", "problem": {"name": "cavity", "Re": 100, "reference_mesh": 16, "reference_grid": 33},
        "model": {"name": "pinn", "width": 16, "depth": 2},
        "objective": {"name": "physics", "interior_points": 256},
        "training": {"phases": [{"optimizer": "adam", "steps": 30}], "log_every": 5, "tensorboard": False}}, _cavity),
    "08_cavity_high_re.ipynb": ({
        "name": "nb_cavity_parametric", "dtype": "float64",
        "problem": {"name": "cavity", "Re": 400, "parametric": {"Re": [100, 400]}, "reference_mesh": 16,
                    "reference_grid": 33},
        "model": {"name": "pinn", "width": 16, "depth": 2},
        "objective": {"name": "physics", "interior_points": 256},
        "training": {"phases": [{"optimizer": "adam", "steps": 30}], "log_every": 5, "tensorboard": False}},
        _cavity_parametric),
    "02_cylinder_pinn.ipynb": ({
        "name": "nb_cylinder", "problem": {"name": "dfg_cylinder", "reference_n_cyl": 24, "reference_h_max": 0.08},
        "model": {"name": "pinn", "width": 16, "depth": 2},
        "objective": {"name": "physics", "interior_points": 256},
        "training": {"phases": [{"optimizer": "adam", "steps": 10}], "log_every": 5, "tensorboard": False}},
        _cylinder),
    "03_ns2d_operators.ipynb": ({
        "name": "nb_ns2d", "problem": {"name": "ns2d", "dataset": "ns2d_nu1e-5_cpu", "t_in": 2, "horizon": 3,
                                       "params": {"n_train": 4, "n_validation": 2, "n_test": 2, "T": 6,
                                                  "resolution": 16, "solve_resolution": 16, "batch_size": 8}},
        "model": {"name": "dymixop", "width": 4, "modes": 3, "layers": 2},
        "objective": {"name": "rollout", "steps": 2, "batch_size": 4},
        "training": {"phases": [{"optimizer": "adam", "steps": 3}], "log_every": 1, "validate_every": 3,
                     "tensorboard": False}}, _ns2d),
    "04_channel_ifactformer.ipynb": ({
        "name": "nb_channel", "problem": {"name": "channel", "dataset": "channel_retau180_cpu", "t_in": 1,
                                          "horizon": 2,
                                          "params": {"spinup": 0.1, "n_snapshots": 4, "snapshot_every": 80, "gap": 0,
                                                     "nx": 16, "ny": 24, "nz": 16, "coarse": [8, 13, 8],
                                                     "n_trajectories": 3}},
        "model": {"name": "ifactformer", "variant": "m", "dim": 8, "heads": 1, "dim_head": 8, "iterations": 2,
                  "fourier_features": 4},
        "objective": {"name": "supervised", "batch_size": 2, "loss": "rel_l2"},
        "training": {"phases": [{"optimizer": "adam", "steps": 20}], "log_every": 5, "tensorboard": False},
        "evaluation": {"rollout_steps": 5}}, _channel),
    "05_lpinn.ipynb": ({
        "name": "nb_lpinn", "dtype": "float64",
        "problem": {"name": "convection", "c": 10.0, "reference_nx": 64, "reference_nt": 20},
        "model": {"name": "lpinn", "width": 8, "depth": 2, "lagrangian_points": 256},
        "objective": {"name": "lagrangian", "interior_points": 128},
        "training": {"phases": [{"optimizer": "adam", "steps": 20, "lr": 1e-2}], "log_every": 5,
                     "tensorboard": False}}, _lpinn),
    "06_probconserv.ipynb": ({
        "name": "nb_probconserv", "problem": {"name": "gpme_stefan"},
        "model": {"name": "probconserv", "hidden": 16, "heads": 2, "self_attention_layers": 1, "samples": 4},
        "objective": {"name": "likelihood", "batch_size": 4, "validation_functions": 2, "validation_grid": 6},
        "training": {"phases": [{"optimizer": "adam", "steps": 3}], "log_every": 1, "tensorboard": False},
        "evaluation": {"grid": [21, 41], "functions": 2, "samples": 4}}, _probconserv),
}


def _own_problem(m):
    """07 writes a problem the package does not ship (2D heat) and compares it with its exact solution."""
    assert m["problem"] == "heat2d" and m["u_rel_l2"] < 0.01 and m["u_max_error"] < 0.01


# notebooks that train their own run (into $SCIFLOW_NOTEBOOK_RUN), and the check of its metrics
SELF_TRAINED = {"07_your_own_problem.ipynb": _own_problem}


def _execute(path: Path):
    """Run every cell with the kernel in notebooks/ (as Jupyter does); return the cells' errors."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    return [f"{o['ename']}: {o['evalue']}" for o in outputs if o.get("output_type") == "error"]


def test_every_tiny_run_belongs_to_a_notebook():
    assert set(TINY_RUNS) <= {p.name for p in NOTEBOOKS.glob("*.ipynb")}


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_executes_from_its_folder(name, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run = None
    if name in TINY_RUNS:
        spec, _ = TINY_RUNS[name]
        run = train(spec_from_dict(spec), out=tmp_path / "run", progress=False)
        monkeypatch.setenv("SCIFLOW_NOTEBOOK_RUN", str(run))
    elif name in SELF_TRAINED:
        run = tmp_path / "run"
        monkeypatch.setenv("SCIFLOW_NOTEBOOK_RUN", str(run))
    else:
        monkeypatch.delenv("SCIFLOW_NOTEBOOK_RUN", raising=False)
    assert _execute(NOTEBOOKS / name) == []
    if run is not None:
        check = TINY_RUNS[name][1] if name in TINY_RUNS else SELF_TRAINED[name]
        check(json.loads((run / "evaluation" / "metrics.json").read_text()))


def test_files_the_notebooks_read_resolve_from_their_folder():
    """Every ``Path("...")`` a notebook opens (benchmark tables of the checkout) exists seen from notebooks/."""
    import re

    opened = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                opened += [(path.name, m) for m in re.findall(r'Path\("([^"]+)"\)', cell.source)]
    assert opened, "no notebook reads a file"
    assert [(nb, f) for nb, f in opened if not (NOTEBOOKS / f).exists()] == []


def test_your_own_problem_is_written_in_under_80_lines():
    nb = nbformat.read(NOTEBOOKS / "07_your_own_problem.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "register_problem" in c.source]
    assert len(cells) == 1 and len(cells[0].source.splitlines()) < 80
