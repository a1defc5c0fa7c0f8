"""The wheel carries the bundled configs, recipes and published tables, and finds them once unpacked
away from the checkout (what `pip install .` gives)."""

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Build the wheel from a copy of what the build reads (pyproject, README, the package)."""
    src = tmp_path_factory.mktemp("src")
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(ROOT / "sciflow", src / "sciflow", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    # setuptools already here: build without fetching it again; else pip's isolated build fetches it
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out),
                          *isolation], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    (path,) = out.glob("sciflow-*.whl")
    return path


def test_wheel_holds_every_bundled_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    resources = ROOT / "sciflow" / "resources"
    expected = {f"sciflow/resources/{p.relative_to(resources).as_posix()}"
                for pattern in ("configs/*.yaml", "datasets/*.yaml", "datasets/reference/*.csv")
                for p in resources.glob(pattern)}
    assert len(expected) >= 28 + 12 + 8
    assert expected <= names, sorted(expected - names)
    assert "sciflow/resources/configs/cavity_re100_pinn.yaml" in names
    assert "sciflow/resources/datasets/reference/ghia1982_cavity_u_vertical_centerline_re100.csv" in names
    # the checkout's links, benchmarks and tests stay out of the wheel
    assert not [n for n in names if n.split("/")[0] in ("configs", "datasets", "benchmarks", "tests", "notebooks")]


def test_unpacked_wheel_finds_its_files_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "empty"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = ("import sciflow, sciflow.resources as r\n"
            "from sciflow.spec import load_spec\n"
            "from sciflow.cfd.fem_cases import ghia_centerlines\n"
            "from sciflow.problems.reference_data import recipe_dataset_file\n"
            "print(sciflow.__file__)\n"
            "print(load_spec('cavity_re100_pinn').name, len(ghia_centerlines(100)['y']))\n"
            "print(recipe_dataset_file('ns2d_nu1e-5_cpu', 'ns2d')[1])\n"
            "print(sorted({str(p.parents[1]) for p in (*r.bundled_configs().values(), *r.bundled_recipes().values())}))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == str(site / "sciflow" / "__init__.py")
    assert lines[1] == "cavity_re100_pinn 17"
    assert lines[2] == "ns2d_nu1e-5_cpu.nc"
    assert lines[3] == repr([str(site / "sciflow" / "resources")])
