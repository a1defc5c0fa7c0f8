"""The command line outside a checkout: bundled configs and recipes by name, `list`, `--version`."""

import json
import subprocess
import sys

import sciflow
from sciflow.models.registry import MODELS
from sciflow.problems.base import PROBLEMS
from sciflow.resources import bundled_configs, bundled_recipes, reference_tables
from sciflow.training.objectives import OBJECTIVES


def _sciflow(*args, cwd):
    return subprocess.run([sys.executable, "-m", "sciflow", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_version(tmp_path):
    res = _sciflow("--version", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == f"sciflow {sciflow.__version__}"


def test_list_shows_every_bundled_and_registered_name(tmp_path):
    res = _sciflow("list", cwd=tmp_path, )
    assert res.returncode == 0, res.stderr
    sections, current = {}, None
    for line in res.stdout.splitlines():
        if not line.startswith(" "):
            current = line.split(" (")[0]
            sections[current] = set()
        else:
            sections[current].add(line.split()[0])
    assert sections == {"configs": set(bundled_configs()), "recipes": set(bundled_recipes()),
                        "tables": set(reference_tables()), "problems": set(PROBLEMS.names()),
                        "models": set(MODELS.names()), "objectives": set(OBJECTIVES.names())}
    res = _sciflow("list", "configs", cwd=tmp_path)
    assert res.stdout.splitlines()[0] == f"configs ({len(bundled_configs())}):"
    assert "cavity_re100_pinn" in res.stdout and "Lid-driven cavity" in res.stdout
    res = _sciflow("list", "config", cwd=tmp_path)
    assert res.returncode == 2 and "list: unknown section(s) ['config']" in res.stderr


def test_train_a_bundled_config_by_name_from_an_empty_directory(tmp_path):
    """The main job's config by name (tiny budget and FEM mesh), evaluated with the Ghia comparison."""
    res = _sciflow("train", "cavity_re100_pinn", "--evaluate", "--quiet",
                   "--set", "problem.reference_mesh=16", "--set", "problem.reference_grid=33",
                   "--set", "model.width=16", "--set", "objective.interior_points=256",
                   "--set", "training.phases=[{optimizer: adam, steps: 20}]", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "runs/cavity_re100_pinn"
    m = json.loads((tmp_path / "runs/cavity_re100_pinn/evaluation/metrics.json").read_text())
    for key in ("velocity_rel_l2", "p_rel_l2", "ghia_u_max_dev", "ghia_v_max_dev"):
        assert 0 < m[key] < 10, key


def test_data_make_a_bundled_recipe_by_name(tmp_path):
    import xarray as xr

    res = _sciflow("data", "make", "cavity", "--quiet", "--set", "mesh=8", "--set", "grid=9", "--out", "c.nc",
                   cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    with xr.open_dataset(tmp_path / "c.nc") as ds:
        assert ds["u"].shape == (9, 9) and float(ds["u"].sel(y=1.0).isel(x=4)) == 1.0  # the lid


def test_unknown_bundled_name_is_one_error(tmp_path):
    res = _sciflow("train", "cavity_re100", cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == ("sciflow: error: spec file not found: cavity_re100 (neither a file nor a bundled "
                                  "config; close names: cavity_re100_pinn, cavity_re1000_pinn, cavity_re3200_pinn, cavity_re100_pinn_long, "
                                  "cavity_re1000_lbfgs_pinn; `sciflow list` "
                                  "shows them all)")
    assert not (tmp_path / "runs").exists()


def test_resume_of_a_missing_run_is_one_error(tmp_path):
    res = _sciflow("train", "gone_run", "--resume", cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().startswith("sciflow: error: nothing to resume: gone_run is not a run directory, "
                                         "and spec file not found: gone_run")
    assert not (tmp_path / "runs").exists()
