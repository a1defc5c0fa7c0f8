"""Untrusted names stay in their directories; every size and value has bounds; one error line each."""

import pytest
import yaml

from .conftest import TINY, run_cli


@pytest.mark.parametrize("name", ["../escaped", "/tmp/abs_escape", "", "..", "a/b"])
def test_run_name_is_one_path_component(tmp_path, tiny_spec, name):
    res = run_cli("train", tiny_spec(name=name), "--quiet", cwd=tmp_path)
    assert res.returncode == 2 and "name:" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path.parent / "escaped").exists()


def test_recipe_file_cannot_escape_and_foreign_files_are_never_replaced(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "r.yaml").write_text(f"recipe: cavity_fem\nfile: {victim}\nparams: {{Re: 100, mesh: 8, grid: 9}}\n")
    res = run_cli("data", "make", "r.yaml", "--quiet", cwd=tmp_path)
    assert res.returncode == 2 and "file:" in res.stderr
    (tmp_path / "r.yaml").write_text("recipe: cavity_fem\nparams: {Re: 100, mesh: 8, grid: 9}\n")
    res = run_cli("data", "make", "r.yaml", "--out", victim, "--quiet", cwd=tmp_path)
    assert res.returncode == 2 and "not a dataset sciflow wrote" in res.stderr
    assert victim.read_text() == "precious"


def test_bench_name_cannot_leave_benchmarks(tmp_path):
    (tmp_path / "evil.py").write_text(f"open({str(tmp_path / 'PWNED')!r}, 'w')")
    res = run_cli("bench", f"../../../../../../..{tmp_path}/evil", cwd=tmp_path)
    assert res.returncode == 2 and not (tmp_path / "PWNED").exists()


def _edit(section, key, value):
    spec = yaml.safe_load(yaml.safe_dump(TINY))
    node = spec
    for k in section:
        node = node[k]
    node[key] = value
    return spec


BAD = [
    (("model",), "depth", -1, "model.depth"),
    (("model",), "depth", 0, "model.depth"),
    (("model",), "width", 0, "model.width"),
    (("model",), "width", True, "model.width"),
    (("objective",), "interior_points", 0, "objective.interior_points"),
    (("objective",), "interior_point", 10, "objective.interior_point: unknown key"),
    (("problem",), "Re", float("nan"), "problem.Re"),
    (("problem",), "Re", float("inf"), "problem.Re"),
    (("training", "phases", 0), "steps", True, "training.phases.0.steps"),
    ((), "seed", -1, "seed"),
]


@pytest.mark.parametrize("section, key, value, named", BAD)
def test_each_bounded_value_is_refused_with_its_key(tmp_path, section, key, value, named):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(_edit(section, key, value)))
    res = run_cli("train", "s.yaml", "--quiet", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert named in res.stderr and "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_model_too_large_for_memory_is_refused_before_allocating(tmp_path):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(_edit(("model",), "width", 1000000)))
    res = run_cli("train", "s.yaml", "--quiet", cwd=tmp_path)
    assert res.returncode == 2 and "GiB" in res.stderr and "parameters" in res.stderr


@pytest.mark.parametrize("content, message", [
    ("name: a\nname: b\n", "duplicate key 'name'"),
    (b"\xff\xfe binary", "not a text (UTF-8) file"),
])
def test_malformed_spec_files_are_one_error(tmp_path, content, message):
    p = tmp_path / "s.yaml"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    res = run_cli("train", "s.yaml", "--quiet", cwd=tmp_path)
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr


def test_spec_path_that_is_a_directory_points_to_resume(tmp_path):
    (tmp_path / "d").mkdir()
    res = run_cli("train", "d", cwd=tmp_path)
    assert res.returncode == 2 and "--resume" in res.stderr


@pytest.mark.parametrize("override, message", [
    ("training.phases.5=5", "not a valid list index"),
    ("name.sub=5", "'name' is a value, not a section"),
    ("model.width=[1,", "not valid YAML"),
    ("name=!!python/object/apply:os.system [ls]", "not valid YAML"),
])
def test_bad_overrides_are_one_error(tmp_path, tiny_spec, override, message):
    res = run_cli("train", tiny_spec(), "--quiet", "--set", override, cwd=tmp_path)
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr
