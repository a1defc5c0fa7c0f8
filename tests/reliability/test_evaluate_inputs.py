"""``sciflow evaluate`` on damaged run files: no traceback, nothing lost, a clear line or a working report."""

import errno
import json

import pytest

import sciflow.data.io as data_io
import sciflow.evaluation.report as report
from sciflow.api import evaluate, train
from sciflow.data.io import read_dataset, write_dataset
from sciflow.errors import SciflowError
from sciflow.problems.base import build_problem
from sciflow.problems.reference_data import cache_path
from sciflow.spec import spec_from_dict

from .conftest import TINY, run_cli


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return train(spec_from_dict(TINY), out=tmp_path_factory.mktemp("ev") / "run", progress=False)


@pytest.fixture
def run(finished, tmp_path):
    import shutil

    return shutil.copytree(finished, tmp_path / "run")


@pytest.mark.parametrize("content", ["step,phase,lr,loss,momentum_x,elapsed_s\n", ""], ids=["header only", "empty"])
def test_a_metrics_csv_without_rows_skips_the_loss_history_and_says_so(run, content):
    (run / "metrics.csv").write_text(content)
    metrics = evaluate(run, progress=False)
    assert "train_seconds" not in metrics and metrics["step"] == 12
    assert "Loss history: not drawn, `metrics.csv` holds no logged steps." in (run / "evaluation" / "report.md").read_text()
    assert not (run / "evaluation" / "loss_history.png").exists()
    assert json.loads((run / "evaluation" / "metrics.json").read_text())["step"] == 12
    assert (run / "metrics.csv").read_text() == content  # left as it was


def test_evaluate_refuses_an_evaluation_path_that_is_a_file_before_any_work(run, monkeypatch):
    (run / "evaluation").write_text("mine")
    monkeypatch.setattr(report, "evaluate_run", lambda *a, **k: pytest.fail("work started"))
    with pytest.raises(SciflowError, match=f"evaluation directory {run / 'evaluation'} is a file"):
        evaluate(run, progress=False)
    res = run_cli("evaluate", run, "--quiet", cwd=run)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert (run / "evaluation").read_text() == "mine"


def test_evaluate_refuses_a_read_only_evaluation_directory_before_any_work(run, monkeypatch):
    real = data_io.tempfile.mkstemp

    def mkstemp(*a, dir=None, **k):
        if str(dir).endswith("evaluation"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(*a, dir=dir, **k)

    monkeypatch.setattr(data_io.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(report, "evaluate_run", lambda *a, **k: pytest.fail("work started"))
    with pytest.raises(SciflowError, match=f"evaluation directory {run / 'evaluation'} is not writable: "
                                           "Permission denied"):
        evaluate(run, progress=False)


def test_a_cached_reference_without_u_is_remade_not_used(capsys):
    problem = build_problem({"name": "cavity", "Re": 100, "reference_mesh": 8, "reference_grid": 9})
    ds = problem.reference(progress=False)
    path = cache_path("cavity_fem", {"Re": 100.0, "mesh": 8, "grid": 9}, "cavity_re100_mesh8.nc")
    assert path.exists() and {"u", "v", "p"} <= set(ds.data_vars)
    write_dataset(ds.drop_vars("u"), path)  # same parameters, a variable missing
    capsys.readouterr()
    again = problem.reference(progress=False)
    assert f"reference data {path} lacks the variable(s) ['u']: remaking it" in capsys.readouterr().out
    assert float(abs(again["u"] - ds["u"]).max()) == 0.0
    assert "u" in read_dataset(path).data_vars
