"""User code from a spec: a problem AND a model written outside the package, named through
``imports:``, trained with the ``sciflow train`` CLI, then evaluated and resumed in new processes;
``module:Class`` names; entry points; the errors when user code is missing."""

import json
import subprocess
import sys
import textwrap

import pytest
import yaml

from sciflow.errors import SciflowError
from sciflow.spec import spec_from_dict

USER_CODE = textwrap.dedent('''
    """A 2D Poisson problem and a one-layer network: user code outside sciflow."""
    import math

    import torch
    from torch import nn

    import sciflow
    from sciflow.autodiff.jet import autograd_jet
    from sciflow.problems.geometry import Rectangle


    @sciflow.register_problem("user_poisson")
    class UserPoisson(sciflow.Problem):
        """-Δu = 2π² sin(πx) sin(πy) on [0,1]², u = 0 on the walls; exact u = sin(πx) sin(πy)."""

        def __init__(self, k: float = 1.0):
            super().__init__(inputs=("x", "y"), fields=(sciflow.Field("u", "1", "potential"),), params={"k": k})
            self.k = float(k)
            self.domain = Rectangle(0.0, 1.0, 0.0, 1.0)

        def exact(self, x):
            return torch.sin(self.k * math.pi * x[:, :1]) * torch.sin(self.k * math.pi * x[:, 1:2])

        def residual(self, x, out):
            f = 2 * (self.k * math.pi) ** 2 * self.exact(x)[:, 0]
            return {"poisson": out.d2[:, 0, 0] + out.d2[:, 1, 0] + f}

        def sample(self, region, n, generator=None):
            return self.domain.sample_interior(n, generator)

        def hard_constraint(self, output="primitive"):
            return (lambda x: torch.zeros_like(x[:, :1]),
                    lambda x: x[:, :1] * (1 - x[:, :1]) * x[:, 1:2] * (1 - x[:, 1:2]))


    @sciflow.register_model("user_net")
    class UserNet(sciflow.PointwiseModel):
        """u = lift + distance · N(x), N a one-hidden-layer tanh network; derivatives by autograd."""

        def __init__(self, problem, width: int = 16):
            super().__init__()
            self.problem = problem
            self.net = nn.Sequential(nn.Linear(2, width), nn.Tanh(), nn.Linear(width, 1))

        def _fields(self, x):
            lift, dist = self.problem.hard_constraint()
            return lift(x) + dist(x) * self.net(x)

        def forward(self, x, ansatz=None):
            return autograd_jet(self._fields, x)

        @torch.no_grad()
        def predict(self, x):
            return self._fields(x)
''')

SPEC = {"name": "user_poisson", "imports": ["./code/user_flows.py"], "dtype": "float64",
        "problem": {"name": "user_poisson"}, "model": {"name": "user_net", "width": 16},
        "objective": {"name": "physics", "interior_points": 256},
        "training": {"phases": [{"optimizer": "adam", "steps": 30, "lr": 0.01}], "checkpoint_every": 5,
                     "tensorboard": False}}


def _sciflow(*args, cwd):
    return subprocess.run([sys.executable, "-m", "sciflow", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def _python(code, cwd):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "user_flows.py").write_text(USER_CODE)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(SPEC))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return tmp_path, elsewhere


def test_user_problem_and_model_train_evaluate_and_resume_in_new_processes(project):
    root, elsewhere = project
    # train with the CLI from another directory: the import path is relative to the spec file
    res = _sciflow("train", str(root / "spec.yaml"), "--out", str(root / "run"), "--quiet", cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    saved = yaml.safe_load((root / "run" / "spec.yaml").read_text())
    assert saved["imports"] == [str((root / "code" / "user_flows.py").resolve())]
    res = _sciflow("evaluate", str(root / "run"), "--quiet", cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    metrics = json.loads((root / "run" / "evaluation" / "metrics.json").read_text())
    assert 0 < metrics["u_rel_l2"] < 1.5 and metrics["u_max_error"] > 0
    assert (root / "run" / "evaluation" / "field_comparison.png").exists()
    assert "u_rel_l2" in (root / "run" / "evaluation" / "report.md").read_text()

    # stop a run after 12 of its 30 steps, then resume it from the CLI in a new process
    res = _python(f"import sciflow; sciflow.train({str(root / 'spec.yaml')!r}, out={str(root / 'run2')!r}, "
                  "progress=False, stop_after=12)", cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    res = _sciflow("train", str(root / "run2"), "--resume", "--quiet", cwd=root)
    assert res.returncode == 0, res.stderr
    steps = [int(float(r.split(",")[0])) for r in (root / "run2" / "metrics.csv").read_text().splitlines()[1:]]
    assert max(steps) >= 29
    # the same 30 steps, interrupted or not, give the same weights
    res = _python("import sciflow, torch; a = sciflow.load_run(%r).model.state_dict(); "
                  "b = sciflow.load_run(%r).model.state_dict(); "
                  "print(max(float((a[k] - b[k]).abs().max()) for k in a))" % (str(root / "run"), str(root / "run2")),
                  cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    assert float(res.stdout.strip().splitlines()[-1]) == 0.0


def test_module_colon_class_names_and_missing_user_code(project, tmp_path):
    root, _ = project
    # unregistered classes named by path (this process's registries stay as they are)
    plain = "\n".join(ln for ln in USER_CODE.splitlines() if not ln.startswith("@sciflow.register_"))
    (root / "code" / "plain.py").write_text(plain)
    raw = {**SPEC, "imports": [], "problem": {"name": "code/plain.py:UserPoisson"},
           "model": {"name": "code/plain.py:UserNet", "width": 4}}
    spec = spec_from_dict(raw, "s.yaml", base_dir=root)
    assert spec.problem.name == f"{(root / 'code' / 'plain.py').resolve()}:UserPoisson"
    with pytest.raises(SciflowError, match=r"imports\[0\]: no module named 'no_such_pkg.flows'"):
        spec_from_dict({**SPEC, "imports": ["no_such_pkg.flows"]}, "s.yaml", base_dir=root)
    (root / "data.txt").write_text("x")
    with pytest.raises(SciflowError, match=r"imports\[0\]: '.*data.txt' is not a Python file"):
        spec_from_dict({**SPEC, "imports": ["./data.txt"]}, "s.yaml", base_dir=root)
    with pytest.raises(SciflowError, match=r"model.name: module '.*user_flows.py' has no 'Nope'|has no 'Nope'"):
        spec_from_dict({**raw, "model": {"name": "code/plain.py:Nope"}}, "s.yaml", base_dir=root)


def test_installed_package_registers_through_entry_points(tmp_path):
    """A distribution declaring ``[sciflow.plugins]`` is imported when a registry meets an unknown name."""
    site = tmp_path / "site"
    (site / "userplug").mkdir(parents=True)
    (site / "userplug" / "__init__.py").write_text(USER_CODE)
    info = site / "userplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: userplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[sciflow.plugins]\nuserplug = userplug\n")
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from sciflow.problems.base import problem_class\n"
            "from sciflow.models.registry import model_class\n"
            "print(problem_class('user_poisson').__module__, model_class('user_net').__name__)") % str(site)
    res = _python(code, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["userplug", "UserNet"]
