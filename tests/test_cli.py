"""The command line: data make with overrides, train printing the run dir last, clear errors."""

import subprocess
import sys

import yaml


def _sciflow(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sciflow", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_train_prints_run_dir_and_evaluate_writes_metrics(tmp_path):
    spec = {"name": "cli_kovasznay", "dtype": "float64", "problem": {"name": "kovasznay", "Re": 40},
            "model": {"name": "pinn", "width": 10, "depth": 2},
            "objective": {"name": "physics", "interior_points": 128},
            "training": {"phases": [{"optimizer": "adam", "steps": 5}], "tensorboard": False}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    res = _sciflow("train", "s.yaml", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    run = res.stdout.strip().splitlines()[-1]
    assert run == "runs/cli_kovasznay"
    res = _sciflow("evaluate", run, "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    import json

    m = json.loads((tmp_path / run / "evaluation" / "metrics.json").read_text())
    for k in ("velocity_rel_l2", "u_rel_l2", "v_rel_l2", "p_rel_l2"):
        assert 0 < m[k] < 10


def test_bad_spec_is_one_clear_error(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: x\nproblem: {name: cavity}\nmodel: {name: pinn, depth: deep}\n")
    res = _sciflow("train", "bad.yaml", cwd=tmp_path)
    assert res.returncode == 2
    assert "bad.yaml" in res.stderr and "Traceback" not in res.stderr
    res = _sciflow("data", "make", "no_such_recipe.yaml", cwd=tmp_path)
    assert res.returncode == 2 and "recipe file not found" in res.stderr


def test_output_pipe_closed_early_stops_quietly(tmp_path):
    """`sciflow list | head -0`: the reader has gone; sciflow exits 141 (SIGPIPE) with no traceback."""
    import os
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "sciflow", "list"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"}, bufsize=0)
    proc.stdout.close()  # before the child (still importing) writes its first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and "Traceback" not in err and "Error" not in err


def test_printed_metrics_are_the_runs_own(capsys):
    """Every numeric error metric of any evaluator is printed (not a fixed cavity list); provenance is not."""
    from sciflow.cli import _print_metrics

    _print_metrics({"U_plus_max_rel_err": 0.042, "rms_max_rel_err": 0.13, "train_seconds": 12.5, "step": 1000,
                    "run": "runs/x", "reference": {"case": "channel"}})
    out = capsys.readouterr().out
    assert "U_plus_max_rel_err = 0.042" in out and "rms_max_rel_err = 0.13" in out
    assert "train_seconds = 12.5" in out and "runs/x" not in out and "step" not in out
