"""A start that ends before its first checkpoint leaves nothing that blocks the retry."""

import pytest

from sciflow.api import train
from sciflow.errors import SciflowError
from sciflow.problems.navier_stokes import LidDrivenCavity
from sciflow.spec import spec_from_dict
from sciflow.training.checkpoint import load_checkpoint

from .conftest import TINY, run_cli

CAVITY = {**TINY, "name": "cav", "problem": {"name": "cavity", "Re": 100, "reference_mesh": 8, "reference_grid": 9},
          "training": {**TINY["training"], "phases": [{"optimizer": "adam", "steps": 3, "lr": 1e-3}]}}


@pytest.mark.parametrize("typo, message", [
    ("model.activation=tanhh", "model.activation: 'tanhh' is not one of"),
    ("device=banana", "device: 'banana' is not a device"),
])
def test_a_spec_refused_at_model_build_creates_no_directory_and_the_fixed_spec_trains(tmp_path, tiny_spec, typo,
                                                                                     message):
    path = tiny_spec()
    res = run_cli("train", path, "--quiet", "--set", typo, cwd=tmp_path)
    assert res.returncode == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()
    run = train(spec_from_dict(TINY), out=tmp_path / "runs" / "tiny", progress=False)
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 12


def test_ctrl_c_while_the_reference_is_made_then_a_plain_retry_trains(tmp_path, monkeypatch, capsys):
    def interrupted(self, progress=True):
        raise KeyboardInterrupt

    monkeypatch.setattr(LidDrivenCavity, "reference", interrupted)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(spec_from_dict(CAVITY), out=run, progress=False)
    assert not list((run / "checkpoints").glob("*.pt")) and not (run / ".lock").exists()
    with pytest.raises(SciflowError, match=r"--resume: no checkpoint at .*train without --resume"):
        train(spec_from_dict(CAVITY), out=run, resume=True, progress=False)
    monkeypatch.setattr(LidDrivenCavity, "reference", lambda self, progress=True: None)  # the FEM is not needed here
    train(spec_from_dict(CAVITY), out=run, progress=False)  # no flag needed
    assert "holds no checkpoint" in capsys.readouterr().err
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 3


def test_a_directory_with_files_sciflow_did_not_write_is_refused_untouched(tmp_path):
    mine = tmp_path / "mine"
    (mine / "checkpoints").mkdir(parents=True)
    (mine / "notes.txt").write_text("x")
    with pytest.raises(SciflowError, match=r"mine is not a sciflow run directory \(it holds \['notes.txt'\]"):
        train(spec_from_dict(TINY), out=mine, progress=False)
    assert sorted(p.name for p in mine.iterdir()) == ["checkpoints", "notes.txt"]
