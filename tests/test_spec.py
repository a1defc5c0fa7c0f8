"""Bad specs stop with one error naming the file and the key path; overrides apply."""

import pytest
import yaml

from sciflow.errors import SciflowError
from sciflow.spec import load_spec

GOOD = {
    "name": "t", "problem": {"name": "cavity", "Re": 100}, "model": {"name": "pinn", "width": 8},
    "training": {"phases": [{"optimizer": "adam", "steps": 5}]},
}


def _write(tmp_path, data):
    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_good_spec_and_overrides(tmp_path):
    s = load_spec(_write(tmp_path, GOOD), ["training.phases.0.steps=7", "problem.Re=400", "dtype=float64"])
    assert s.training.phases[0].steps == 7 and s.problem.Re == 400 and s.dtype == "float64"


@pytest.mark.parametrize("mutate, pattern", [
    (lambda d: d.update(lerning_rate=1), r"spec\.yaml: lerning_rate: unknown key"),
    (lambda d: d["training"]["phases"][0].update(steps="many"), r"spec\.yaml: training\.phases\.0\.steps: "),
    (lambda d: d["training"]["phases"][0].update(optimizer="adamax"), r"training\.phases\.0\.optimizer"),
    (lambda d: d["training"].update(checkpoint_evry=3), r"training\.checkpoint_evry: unknown key"),
    (lambda d: d["model"].update(widht=3), r"spec\.yaml: model\.widht: unknown key for model 'pinn'"),
    (lambda d: d["problem"].update(name="cavty"), r"problem\.name: unknown problem 'cavty'"),
    (lambda d: d["problem"].update(Reynolds=3), r"problem\.Reynolds: unknown key"),
    (lambda d: d.pop("model"), r"spec\.yaml: model: Field required"),
])
def test_bad_spec_names_file_and_key(tmp_path, mutate, pattern):
    import copy

    d = copy.deepcopy(GOOD)
    mutate(d)
    with pytest.raises(SciflowError, match=pattern):
        load_spec(_write(tmp_path, d))


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(SciflowError, match="spec file not found: .*nope.yaml"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(SciflowError, match="expected KEY=VALUE"):
        load_spec(_write(tmp_path, GOOD), ["training.phases.0.steps"])
    with pytest.raises(SciflowError, match=r"training\.phases\.0\.steps"):
        load_spec(_write(tmp_path, GOOD), ["training.phases.0.steps=-3"])


def test_configs_in_repo_are_valid():
    from pathlib import Path

    for p in sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml")):
        load_spec(p)


def test_model_argument_of_wrong_type(tmp_path):
    import copy

    d = copy.deepcopy(GOOD)
    d["model"]["depth"] = "deep"
    with pytest.raises(SciflowError, match=r"spec\.yaml: model\.depth: Input should be a valid integer"):
        load_spec(_write(tmp_path, d))
