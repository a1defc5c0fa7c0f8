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


def test_a_misspelt_evaluation_key_is_refused_before_training_and_before_evaluating(tmp_path, run):
    """The keys of ``evaluation`` are declared by the problem's evaluator (``register_evaluator(name, keys)``);
    any other key is an error naming it, before a run directory or an evaluation directory is made."""
    spec = spec_from_dict({**TINY, "evaluation": {"target": {"u_rel_l2": 0.1}}})  # 'targets' misspelt
    with pytest.raises(SciflowError, match=r"evaluation.target: not a key .* reads \(known: \['targets'\]\)"):
        train(spec, out=tmp_path / "new", progress=False)
    assert not (tmp_path / "new").exists()
    with pytest.raises(SciflowError, match="evaluation.rollout_steps: not a key"):
        evaluate(run, progress=False, evaluation={"rollout_steps": 3})
    assert not any(p.name.startswith("evaluation_") for p in run.iterdir())


def test_evaluation_directories_are_named_by_the_overridden_values():
    """Two evaluations of the same run that differ in a value write different directories."""
    from sciflow.evaluation.report import evaluation_subdir

    assert evaluation_subdir({"constraints": ["no_slip", "bulk_flow"]}) == "evaluation_constraints=no_slip+bulk_flow"
    assert evaluation_subdir({"rollout_steps": 200, "constraints": ["bulk_flow"]}) == \
        "evaluation_constraints=bulk_flow,rollout_steps=200"
    assert evaluation_subdir({"rollout_steps": 200}) != evaluation_subdir({"rollout_steps": 300})
    odd = evaluation_subdir({"paper": {"functions": 10}})  # not a plain word: 8 hex digits of its hash
    assert odd.startswith("evaluation_paper=") and len(odd) == len("evaluation_paper=") + 8
    assert odd != evaluation_subdir({"paper": {"functions": 20}})
    assert "/" not in evaluation_subdir({"grid": "../../etc"})  # a value never leaves the run directory
