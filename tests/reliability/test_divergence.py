"""Only finite weights are saved; a NaN right after a save leaves a resumable good checkpoint."""

import json

import pytest
import torch

from sciflow.api import evaluate, train
from sciflow.errors import Diverged, SciflowError
from sciflow.spec import spec_from_dict

from .conftest import TINY, run_cli

# 6 good Adam steps, then SGD at lr 1e300: one update makes the weights ~1e300 (finite, saved at the
# next checkpoint), and the loss at those weights overflows: a NaN right after a save
DIVERGE = {**TINY, "training": {**TINY["training"], "checkpoint_every": 1,
                                "phases": [{"optimizer": "adam", "steps": 6, "lr": 1e-3},
                                           {"optimizer": "sgd", "steps": 5, "lr": 1e300}]}}


def test_nan_after_a_save_recovers_from_the_previous_checkpoint(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(Diverged, match=r"step 7: .*last good checkpoint is .*last.pt \(step 6\)") as exc:
        train(spec_from_dict(DIVERGE), out=run, progress=False)
    ck = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    weights = torch.cat([v.flatten() for v in ck["model"].values()])
    assert weights.abs().max() < 1e3, "last.pt must hold weights that gave a finite loss"
    assert (run / "checkpoints" / "last.diverged.pt").exists()
    assert f"step {ck['step']})" in str(exc.value)
    # the natural fix: lower the lr of the diverging phase and resume; the run then finishes
    train(run / "spec.yaml", ["training.phases.1.lr=1e-4"], out=run, resume=True, progress=False)
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["step"] == 11


def test_infinite_lr_is_refused_by_the_spec(tmp_path, tiny_spec):
    path = tiny_spec(training={**TINY["training"], "phases": [{"optimizer": "adam", "steps": 3, "lr": float("inf")}]})
    res = run_cli("train", path, "--quiet", cwd=tmp_path)
    assert res.returncode == 2 and "training.phases.0.lr" in res.stderr and "finite" in res.stderr


def test_evaluating_a_diverged_model_fails_and_metrics_json_stays_valid(tmp_path):
    run = train(spec_from_dict(TINY), out=tmp_path / "run", progress=False)
    evaluate(run, progress=False)
    json.loads((run / "evaluation" / "metrics.json").read_text())  # strict JSON
    last = run / "checkpoints" / "last.pt"
    ck = torch.load(last, weights_only=True)
    first = next(iter(ck["model"]))
    ck["model"][first] = torch.full_like(ck["model"][first], float("inf"))
    torch.save(ck, last)
    with pytest.raises(SciflowError, match="not finite"):
        evaluate(run, progress=False)
    res = run_cli("evaluate", run, "--quiet", cwd=tmp_path)
    assert res.returncode == 2
