"""Signals stop a run resumably with 128+signum; resume --set applies what may change, refuses the rest."""

import csv
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from sciflow.api import train
from sciflow.errors import SciflowError
from sciflow.spec import spec_from_dict

from .conftest import TINY, run_cli

LONG = {**TINY, "training": {**TINY["training"], "checkpoint_every": 10 ** 6, "log_every": 1,
                             "phases": [{"optimizer": "adam", "steps": 4000, "lr": 1e-3}]}}


def _losses(run):
    with open(run / "metrics.csv") as f:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(f)}


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_run_checkpoints_and_resume_reproduces_the_losses(tmp_path, sig, code):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(LONG))
    cmd = [sys.executable, "-m", "sciflow", "train", "s.yaml", "--out", "run", "--quiet", "--evaluate"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"OMP_NUM_THREADS": "1", **__import__("os").environ},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    run = tmp_path / "run"
    deadline = time.time() + 120
    while time.time() < deadline and (not (run / "metrics.csv").exists() or len(_losses(run)) < 30):
        time.sleep(0.2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "resumable checkpoint" in err and not (run / "evaluation").exists()  # --evaluate skipped
    step = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["step"]
    assert 30 <= step < 4000 and max(_losses(run)) == step  # every logged step is in the checkpoint
    train(spec_from_dict(LONG), out=run, resume=True, progress=False)
    ref = _losses(train(spec_from_dict(LONG), out=tmp_path / "ref", progress=False))
    assert _losses(run) == ref


def test_resume_set_extends_training_lowers_lr_and_records_it(tmp_path):
    run = train(spec_from_dict(TINY), out=tmp_path / "run", progress=False)
    train(run / "spec.yaml", ["training.phases.0.steps=20", "training.phases.0.lr=1e-4",
                              "training.log_every=2"], out=run, resume=True, progress=False)
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["step"] == 20
    saved = yaml.safe_load((run / "spec.yaml").read_text())
    assert saved["training"]["phases"][0]["lr"] == 1e-4
    history = yaml.safe_load((run / "spec_history.yaml").read_text())
    assert history[0]["step"] == 12
    assert {c["key"] for c in history[0]["changes"]} == {"training.phases.0.steps", "training.phases.0.lr",
                                                        "training.log_every"}


@pytest.mark.parametrize("override, key", [("model.width=16", "model.width"), ("problem.Re=40", "problem.Re"),
                                           ("objective.interior_points=32", "objective.interior_points"),
                                           ("seed=3", "seed"), ("training.phases.0.optimizer=sgd",
                                                                "training.phases.0.optimizer")])
def test_resume_refuses_changes_that_cannot_happen_mid_run(tmp_path, override, key):
    run = train(spec_from_dict(TINY), out=tmp_path / "run", progress=False)
    with pytest.raises(SciflowError, match=f"{key}: cannot change on resume"):
        train(run / "spec.yaml", [override], out=run, resume=True, progress=False)


def test_hand_edited_physics_in_spec_yaml_is_refused_by_evaluate(tmp_path):
    run = train(spec_from_dict(TINY), out=tmp_path / "run", progress=False)
    text = (run / "spec.yaml").read_text().replace("Re: 20", "Re: 400")
    (run / "spec.yaml").write_text(text)
    res = run_cli("evaluate", run, "--quiet", cwd=tmp_path)
    assert res.returncode == 2 and "problem.Re: 20 in the checkpoint, 400" in res.stderr


def test_damaged_metrics_csv_is_one_error_or_tolerated(tmp_path):
    from sciflow.api import load_run

    run = train(spec_from_dict(TINY), out=tmp_path / "run", progress=False)
    with open(run / "metrics.csv", "a") as f:
        f.write("\n")
    train(run / "spec.yaml", ["training.phases.0.steps=14"], out=run, resume=True, progress=False)  # blank line: fine
    with open(run / "metrics.csv", "a") as f:
        f.write("garbage,row\n")
    with pytest.raises(SciflowError, match=r"metrics.csv: line \d+: step = 'garbage' is not a number"):
        load_run(run).metrics()
