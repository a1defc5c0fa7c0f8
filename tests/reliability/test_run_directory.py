"""A run directory belongs to one run: no silent overwrite, a lock against a second process."""

import json
import os
import socket
import subprocess
import sys

import pytest

from sciflow.api import evaluate, train
from sciflow.errors import SciflowError
from sciflow.training.run_directory import RunLock
from sciflow.spec import spec_from_dict

from .conftest import TINY, run_cli


def test_training_into_an_existing_run_is_refused_with_the_ways_out(tmp_path):
    spec = spec_from_dict(TINY)
    run = train(spec, out=tmp_path / "run", progress=False)
    evaluate(run, progress=False)
    before = (run / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(SciflowError, match=r"already holds a run.*--resume.*--overwrite"):
        train(spec, out=run, progress=False)
    assert (run / "checkpoints" / "last.pt").read_bytes() == before  # nothing lost


def test_overwrite_removes_the_old_evaluation_and_best_checkpoint(tmp_path):
    spec = spec_from_dict(TINY)
    run = train(spec, out=tmp_path / "run", progress=False)
    evaluate(run, progress=False)
    (run / "checkpoints" / "best.pt").write_bytes((run / "checkpoints" / "last.pt").read_bytes())
    train(spec_from_dict(TINY, overrides={"training.phases.0.steps": 5}), out=run, progress=False, overwrite=True)
    assert not (run / "evaluation").exists() and not (run / "checkpoints" / "best.pt").exists()
    assert max(int(r.split(",")[0]) for r in (run / "metrics.csv").read_text().split()[1:]) == 5


def test_overwrite_never_empties_a_directory_sciflow_did_not_write(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    with pytest.raises(SciflowError, match="not a sciflow run directory"):
        train(spec_from_dict(TINY), out=tmp_path / "mine", progress=False, overwrite=True)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "x"


def test_lock_holds_against_a_second_process_and_a_stale_lock_is_taken_over(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / ".lock").write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname(), "started": "t"}))
        with pytest.raises(SciflowError, match=f"in use by process {sleeper.pid}"):
            train(spec_from_dict(TINY), out=run, progress=False)
    finally:
        sleeper.kill()
        sleeper.wait()
    # the process is gone: its lock is stale and the next run takes it over, then releases it
    train(spec_from_dict(TINY), out=run, progress=False)
    assert not (run / ".lock").exists() and (run / "checkpoints" / "last.pt").exists()


def test_two_concurrent_cli_trainings_one_is_refused(tmp_path, tiny_spec):
    path = tiny_spec(training={**TINY["training"], "phases": [{"optimizer": "adam", "steps": 400}]})
    with RunLock(tmp_path / "runs" / "tiny"):
        res = run_cli("train", path, "--quiet", cwd=tmp_path)
    assert res.returncode == 2 and f"in use by process {os.getpid()}" in res.stderr
    assert not (tmp_path / "runs" / "tiny" / "spec.yaml").exists()


def test_output_directories_are_checked_before_any_work(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(SciflowError, match="is a file"):
        train(spec_from_dict(TINY), out=tmp_path / "afile", progress=False)
    with pytest.raises(SciflowError, match="not writable|is a file"):
        train(spec_from_dict(TINY), out=tmp_path / "afile" / "run", progress=False)
    assert (tmp_path / "afile").read_text() == "x"
