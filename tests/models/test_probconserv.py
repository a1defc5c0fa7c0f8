"""ProbConserv: the conservation update (Eq. 6), HardC, the ANP + likelihood objective, the wrapper."""

import csv

import numpy as np
import pytest
import torch

from sciflow.models.conservation_update import conservation_update, gaussian_log_likelihood, hard_projection


def _random_case(n=40, m=5, rank=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    G = torch.rand(m, n, generator=g, dtype=torch.float64)
    var = 0.05 + torch.rand(n, generator=g, dtype=torch.float64)
    L = torch.randn(n, rank, generator=g, dtype=torch.float64) * 0.5
    mu = torch.randn(n, generator=g, dtype=torch.float64)
    b = torch.randn(m, generator=g, dtype=torch.float64)
    return G, var, L, mu, b


def test_update_with_zero_sigma_conserves_to_round_off_and_removes_constrained_variance():
    G, var, L, mu, b = _random_case()
    post = conservation_update(mu, var, G, b, 0.0, factor=L, full_cov=True)
    assert (G @ post.mean - b).abs().max() <= 1e-12
    prior = torch.diag(var) + L @ L.T
    # G Σ̃ = 0 (relative to the size of G Σ), Σ̃ symmetric positive semi-definite, diag matches var
    assert (G @ post.cov).abs().max() <= 1e-12 * (G @ prior).abs().max()
    assert torch.allclose(post.cov, post.cov.T, atol=1e-13)
    assert torch.linalg.eigvalsh(0.5 * (post.cov + post.cov.T)).min() > -1e-12
    assert torch.allclose(post.var, torch.diagonal(post.cov), atol=1e-13)
    # Eq. (6) evaluated densely, independently of the factored implementation
    K = prior @ G.T
    dense_mean = mu - K @ torch.linalg.solve(G @ K, G @ mu - b)
    assert torch.allclose(post.mean, dense_mean, atol=1e-11)
    # batched: several predictions with one G
    mus = torch.stack([mu, 2 * mu])
    bat = conservation_update(mus, torch.stack([var, var]), G, b)
    assert (bat.mean @ G.T - b).abs().max() <= 1e-12


def test_update_with_positive_sigma_is_between_prior_and_exact():
    G, var, L, mu, b = _random_case(seed=1)
    r0 = (G @ mu - b).norm()
    prev = r0
    for s in (10.0, 1.0, 0.1, 1e-3):
        r = (G @ conservation_update(mu, var, G, b, s, factor=L).mean - b).norm()
        assert r < prev  # shrinking σ_G tightens the constraint monotonically
        prev = r
    assert prev < 1e-4 * r0


def test_hardc_is_the_orthogonal_projection():
    G, _, _, mu, b = _random_case(seed=2)
    p = hard_projection(mu, G, b)
    assert (G @ p - b).abs().max() <= 1e-12
    assert torch.allclose(hard_projection(p, G, b), p, atol=1e-13)  # idempotent
    # μ − Pμ lies in the row space of G (orthogonal to the constraint set's directions)
    lam = torch.linalg.lstsq(G.T, mu - p).solution
    assert torch.allclose(G.T @ lam, mu - p, atol=1e-12)
    # the closest conservative vector: any other v with G v = b is farther from μ
    g = torch.Generator().manual_seed(3)
    Q, _ = torch.linalg.qr(G.T, mode="complete")
    null = Q[:, G.shape[0]:]  # basis of null(G)
    for _ in range(20):
        v = p + null @ torch.randn(null.shape[1], generator=g, dtype=torch.float64)
        assert (G @ v - b).abs().max() < 1e-12
        assert (v - mu).norm() > (p - mu).norm()


def test_update_reduces_error_for_a_calibrated_gaussian():
    """Truth u ~ N(μ, Σ) and b = G u: the update is E[u | G u = b]; its MSE is tr Σ̃/N < tr Σ/N."""
    n, m, draws = 60, 6, 400
    g = torch.Generator().manual_seed(4)
    x = torch.linspace(0, 1, n, dtype=torch.float64)
    cov = torch.exp(-((x[:, None] - x[None]) ** 2) / (2 * 0.1 ** 2)) + 1e-3 * torch.eye(n, dtype=torch.float64)
    L = torch.linalg.cholesky(cov)
    G = torch.kron(torch.eye(m, dtype=torch.float64), torch.full((1, n // m), 1.0 / (n // m), dtype=torch.float64))
    mu = torch.sin(4 * x)
    u = mu + (L @ torch.randn(n, draws, generator=g, dtype=torch.float64)).T  # (draws, n)
    b = u @ G.T
    post = conservation_update(mu.expand(draws, n), torch.zeros(draws, n, dtype=torch.float64), G, b,
                               factor=L.expand(draws, n, n))
    mse_prior = ((mu - u) ** 2).mean()
    mse_post = ((post.mean - u) ** 2).mean()
    assert mse_post < 0.8 * mse_prior
    assert abs(float(mse_post) - float(post.var[0].mean())) < 0.15 * float(post.var[0].mean())  # calibrated
    ll_prior = gaussian_log_likelihood(u, mu.expand(draws, n), torch.diagonal(cov).expand(draws, n)).mean()
    assert gaussian_log_likelihood(u, post.mean, post.var).mean() > ll_prior


def _tiny_spec(problem, steps, **objective):
    from sciflow.spec import spec_from_dict

    return spec_from_dict({
        "name": "tiny_anp", "seed": 0, "dtype": "float32", "problem": problem,
        "model": {"name": "probconserv", "hidden": 16, "heads": 2, "self_attention_layers": 1, "samples": 4},
        "objective": {"name": "likelihood", "batch_size": 4, "targets_t": 5, "targets_x": 5,
                      "validation_functions": 2, "validation_grid": 6, **objective},
        "training": {"phases": [{"optimizer": "adam", "steps": steps, "lr": 1e-3}], "log_every": 1,
                     "checkpoint_every": 2, "validate_every": 3, "tensorboard": False},
        "evaluation": {"grid": [11, 21], "functions": 2, "samples": 4,
                       "paper": {"functions": 3, "samples": 4, "front_samples": 20}}})


def _losses(run):
    with open(run / "metrics.csv") as f:
        return [(r["step"], r["loss"]) for r in csv.DictReader(f) if r["loss"] not in ("", "nan")]


def test_likelihood_training_resumes_bit_for_bit_and_evaluates(tmp_path):
    """A fixed training set + SoftC residual run, stopped and resumed, reproduces every loss."""
    from sciflow.api import evaluate, train

    spec = _tiny_spec({"name": "gpme_stefan"}, 4, functions=8, residual_weight=0.5, residual_functions=2)
    full = train(spec, out=tmp_path / "full", progress=False)
    part = train(spec, out=tmp_path / "part", progress=False, stop_after=2)
    train(spec, out=part, resume=True, progress=False)
    assert _losses(full) == _losses(part) and len(_losses(full)) == 4
    metrics = evaluate(full, progress=False)
    assert metrics["grid/ProbConserv/conservation_error_max"] <= 1e-12
    assert metrics["grid/HardC/conservation_error_max"] <= 1e-12
    assert metrics["grid/SoftC/conservation_error_max"] > 1e-6
    assert (full / "evaluation" / "profile.png").exists()
    # the paper's protocol beside it: both Stefan test values at t = 0.05, with the front-position density
    for value in ("0.5", "0.6"):
        assert metrics[f"paper/p_star={value}/ProbConserv/conservation_error_max"] <= 1e-12
        assert metrics[f"paper/p_star={value}/ProbConserv/t"] == 0.05
        assert metrics[f"paper/p_star={value}/SoftC/front_error"] >= 0
    assert (full / "evaluation" / "front_density.png").exists()
    # the first test function exported on (t, x): its exported mean conserves the mass as the metrics say
    from sciflow.data.io import read_dataset
    from sciflow.problems.porous_medium import trapezoid_weights

    ds = read_dataset(full / "evaluation" / "prediction.nc")
    assert ds["u"].dims == ("t", "x") and ds.sizes == {"t": 11, "x": 21}
    assert {"u_reference", "u_error", "u_std", "u_SoftC", "u_HardC", "u_ProbConserv_latent"} <= set(ds.data_vars)
    w = trapezoid_weights(torch.tensor(ds["x"].values)).numpy()
    mass = lambda f: ds[f].values @ w  # noqa: E731
    np.testing.assert_allclose(mass("u"), mass("u_HardC"), rtol=0, atol=1e-12)  # all hold G u = b exactly
    np.testing.assert_allclose(mass("u"), mass("u_ProbConserv_latent"), rtol=0, atol=1e-12)
    assert np.abs(mass("u_SoftC") - mass("u")).max() > 1e-6
    assert (full / "evaluation" / "prediction.xdmf").exists()


def test_anp_prediction_made_conservative_on_each_gpme_problem():
    from sciflow.models.probconserv import ProbConservANP
    from sciflow.problems.base import build_problem

    for name in ("gpme_heat", "gpme_pme", "gpme_stefan"):
        p = build_problem({"name": name})
        torch.manual_seed(0)
        model = ProbConservANP(p, hidden=16, heads=2, self_attention_layers=1, samples=4).eval()
        grid = p.grid(11, 21)
        G, b = p.constraints(grid)
        d = p.draw_functions(1, generator=torch.Generator().manual_seed(0), theta=torch.tensor([p.param]), grid=grid)
        for covariance in ("diagonal", "latent"):
            model.covariance = covariance
            for update in ("probconserv", "hardc"):
                pred = model.predict_constrained(d["xc"][0], d["yc"][0], grid, update=update)
                assert (G @ pred.mean[:, 0] - b).abs().max() <= 1e-12
                assert (G @ pred.raw_mean[:, 0] - b).abs().max() > 1e-6  # the raw ANP does not conserve
            pc = model.predict_constrained(d["xc"][0], d["yc"][0], grid, update="probconserv")
            assert (pc.var <= pc.raw_var + 1e-15).all()  # conditioning never adds variance


def test_wrapper_makes_a_pinn_ensemble_carry_the_channel_flow_rate():
    """Deep ensemble of small hard-BC PINNs for plane Poiseuille flow, made to carry Q = ∫u dy = 2/3."""
    from sciflow.models.pinn import PINN
    from sciflow.models.probconserv import ProbConserv, channel_sections, flow_rate_constraints
    from sciflow.problems.base import build_problem

    problem = build_problem({"name": "poiseuille", "Re": 100})
    x = problem.sample("interior", 128, torch.Generator().manual_seed(0)).float()
    members = []
    for seed in range(3):
        torch.manual_seed(seed)
        net = PINN(problem, width=16, depth=2)
        opt = torch.optim.Adam(net.parameters(), 3e-3)
        ans = net.make_ansatz(x)
        for _ in range(30):
            opt.zero_grad()
            loss = sum((r ** 2).mean() for r in problem.residual(x, net(x, ans)).values())
            loss.backward()
            opt.step()
        members.append(net)
    grid = channel_sections([0.5, 1.0, 1.5, 2.0], ny=24)
    constraint = flow_rate_constraints(2.0 / 3.0)
    G, b = constraint(grid)
    exact = problem.exact(grid.points)
    assert (G @ exact.reshape(-1) - b).abs().max() < 1e-14  # Gauss–Legendre integrates the parabola exactly
    pred = ProbConserv(members, problem, constraints=constraint).predict(grid)
    assert (G @ pred.raw_mean.reshape(-1) - b).abs().max() > 1e-4  # the ensemble leaks flow rate
    assert (G @ pred.mean.reshape(-1) - b).abs().max() <= 1e-12
    hard = ProbConserv(members, problem, update="hardc", constraints=constraint).predict(grid)
    assert (G @ hard.mean.reshape(-1) - b).abs().max() <= 1e-12


def test_posterior_samples_conserve_and_have_the_posterior_moments():
    from sciflow.models.conservation_update import posterior_samples

    n, draws = 30, 20000
    g = torch.Generator().manual_seed(5)
    x = torch.linspace(0, 1, n, dtype=torch.float64)
    from sciflow.problems.porous_medium import trapezoid_weights

    G = trapezoid_weights(x)[None]
    mean, var = torch.sin(3 * x), 0.01 + 0.05 * torch.rand(n, generator=g, dtype=torch.float64)
    b = torch.tensor([0.3], dtype=torch.float64)
    u = posterior_samples(mean, var, G, b, draws, 0.0, g)
    assert (u @ G.T - b).abs().max() <= 1e-12  # every draw conserves
    post = conservation_update(mean, var, G, b, 0.0, full_cov=True)
    se = (post.var.sqrt() / draws ** 0.5).max()
    assert (u.mean(0) - post.mean).abs().max() < 5 * se
    emp = torch.cov(u.T)
    assert (emp - post.cov).abs().max() < 0.05 * post.var.max()  # ≈ 20 standard errors of a covariance entry
    # σ_G > 0: G u − b has variance σ_G² G Σ̃... the sampled residual variance equals the posterior one
    u2 = posterior_samples(mean, var, G, b, draws, 0.05, g)
    post2 = conservation_update(mean, var, G, b, 0.05, full_cov=True)
    r = (u2 @ G.T)[:, 0]
    assert abs(float(r.var()) - float(G @ post2.cov @ G.T)) < 0.05 * float(G @ post2.cov @ G.T)


class _ExactPlusOffset(torch.nn.Module):
    """A stand-in ANP whose prediction is the exact solution at θ plus ``offset``, variance ``var``."""

    def __init__(self, problem, theta, offset, var):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        self.problem, self.theta, self.offset, self.v = problem, theta, offset, var

    def predict(self, xc, yc, xt, samples=1, generator=None, return_samples=False):
        u = self.problem.solution(xt[..., 0], xt[..., 1], torch.tensor(self.theta, dtype=torch.float64))[..., None]
        mean, var = u + self.offset, torch.full_like(u, self.v)
        return (mean, var, mean[:, None].expand(-1, samples, -1, -1)) if return_samples else (mean, var)


def test_paper_protocol_metrics_are_exact_for_a_known_prediction():
    """MSE = c², LL = −½ log 2πs² − c²/2s², CE = c·L, standard errors 0; ProbConserv conserves; fronts found."""
    import math

    from sciflow.evaluation.probconserv_protocol import evaluate_paper_protocol, first_crossing
    from sciflow.problems.base import build_problem

    x = torch.linspace(0, 1, 11, dtype=torch.float64).numpy()
    draws = torch.tensor([[1.0] * 11, [1.0, 0.5, -0.1] + [1.0] * 8]).numpy()
    assert list(first_crossing(draws, x, 0.0)) == [1.0, x[2]]

    heat = build_problem({"name": "gpme_heat"})
    c, s2 = 0.01, 4e-4
    rows, fronts = evaluate_paper_protocol(_ExactPlusOffset(heat, 1.0, c, s2), heat,
                                           {"ANP": ("none", 0.0), "ProbConserv": ("probconserv", 0.0)},
                                           test_values=[1.0], functions=4, samples=1)
    anp, pc = rows
    assert fronts == {} and anp["t"] == 0.5 and anp["nx"] == 201
    assert abs(anp["mse"] - c ** 2) < 1e-15 and anp["mse_se"] < 1e-15
    assert abs(anp["log_likelihood"] - (-0.5 * math.log(2 * math.pi * s2) - c ** 2 / (2 * s2))) < 1e-12
    assert abs(anp["conservation_error_signed"] - c * 2 * math.pi) < 1e-12
    assert pc["conservation_error_max"] <= 1e-12 and pc["mse"] < anp["mse"]
    assert anp["latent_variance_share"] == 0  # every z draw of the stand-in predicts the same mean

    pme = build_problem({"name": "gpme_pme"})
    rows, fronts = evaluate_paper_protocol(_ExactPlusOffset(pme, 3.0, 0.0, 1e-4), pme,
                                           {"ANP": ("none", 0.0), "ProbConserv": ("probconserv", 0.0)},
                                           test_values=[3.0], functions=2, samples=1, front_samples=50)
    # the exact front x = t = 0.5 lies on the grid, where u = 0: a draw is ≤ 0 there with probability ½,
    # so the draws' fronts are 0.5 + dx·Geometric(½) − dx (mean 0.5 + dx): within three grid steps
    for r in rows:
        assert r["true_front"] == 0.5 and 0 <= r["front_error"] <= 3 / 200
    # the public code draws the ANP fronts with variance σ = 0.01 (std 0.1, not σ = 0.01): at m = 1 the
    # exact u = t − x behind the front is below 0.1 over 0.1 of x, where draws already dip below 0
    rows, _ = evaluate_paper_protocol(_ExactPlusOffset(pme, 1.0, 0.0, 1e-4), pme,
                                      {"ANP": ("none", 0.0), "ProbConserv": ("probconserv", 0.0)},
                                      test_values=[1.0], functions=2, samples=1, front_samples=200)
    anp, pc = rows
    assert anp["front_error"] < 0.02 and anp["front_error_public_code"] > 0.04
    assert pc["front_error_public_code"] == pc["front_error"]
    assert set(fronts[3.0]["draws"]) == {"ANP", "ProbConserv"} and fronts[3.0]["draws"]["ANP"][0].shape == (50,)


def test_run_cache_reuses_a_matching_spec_and_retrains_a_changed_one(tmp_path):
    from sciflow.spec import spec_from_dict
    from sciflow.api import cache_dir, cached_run

    spec = _tiny_spec({"name": "gpme_heat"}, 2)
    run, reused = cached_run(spec, tmp_path, progress=False)
    assert not reused and run.step == 2 and run.path == cache_dir(spec, tmp_path)
    last = run.path / "checkpoints" / "last.pt"
    stamp = last.stat().st_mtime_ns
    again, reused = cached_run(_tiny_spec({"name": "gpme_heat"}, 2), tmp_path, progress=False)
    assert reused and last.stat().st_mtime_ns == stamp  # loaded, not retrained
    for k, v in run.model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k])
    longer = spec_from_dict({**spec.to_dict(), "training": {**spec.to_dict()["training"],
                                                            "phases": [{"optimizer": "adam", "steps": 3, "lr": 1e-3}]}})
    other, reused = cached_run(longer, tmp_path, progress=False)
    assert not reused and other.step == 3 and other.path != run.path and last.stat().st_mtime_ns == stamp


def test_anp_reads_checkpoints_with_a_single_cross_attention_block():
    from sciflow.models.anp import AttentiveNeuralProcess

    torch.manual_seed(0)
    a = AttentiveNeuralProcess(hidden=16, heads=2, self_attention_layers=1)
    old = {k.replace("cross.0.", "cross."): v for k, v in a.state_dict().items()}
    assert any(k.startswith("cross.attn") for k in old)
    b = AttentiveNeuralProcess(hidden=16, heads=2, self_attention_layers=1)
    b.load_state_dict(old)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])


def test_beta_nll_weights_each_point_by_its_detached_variance():
    """β-NLL (Seitzer et al. 2022, Eq. 4): ∂L/∂μ = σ^{2β} (μ − y)/σ² / N; β = 1 gives the MSE's gradient, ½∂/∂μ mean (μ − y)²."""
    from sciflow.problems.base import build_problem
    from sciflow.training.likelihood import LikelihoodObjective

    problem = build_problem({"name": "gpme_stefan"})
    g = torch.Generator().manual_seed(0)
    for beta in (0.0, 0.5, 1.0):
        obj = LikelihoodObjective(problem, None, batch_size=3, targets_t=4, targets_x=5, nll_beta=beta,
                                  validation_functions=1, validation_grid=3)
        obj.setup(torch.device("cpu"), torch.float64, torch.Generator().manual_seed(1))
        batch = obj._batch()
        obj._batch = lambda b=batch: b
        yt = batch["yt"]
        mean = (yt + 0.3 * torch.randn(yt.shape, generator=g, dtype=torch.float64)).requires_grad_(True)
        std = (0.05 + torch.rand(yt.shape, generator=g, dtype=torch.float64)).requires_grad_(True)
        model = lambda xc, yc, xt, y: (mean, std, torch.zeros(xt.shape[0], dtype=torch.float64))  # noqa: E731
        total, terms = obj.loss(model, 0)
        total.backward()
        n = yt.numel()
        expected = std.detach() ** (2 * beta) * (mean.detach() - yt) / std.detach() ** 2 / n
        torch.testing.assert_close(mean.grad, expected, rtol=1e-12, atol=1e-15)
        # the logged nll stays the plain likelihood whatever β
        plain = -torch.distributions.Normal(mean, std).log_prob(yt).mean()
        assert abs(float(terms["nll"].detach()) - float(plain)) < 1e-14
        if beta == 1.0:
            mse = 0.5 * ((mean - yt) ** 2).mean()
            (mse_grad,) = torch.autograd.grad(mse, mean)
            torch.testing.assert_close(mean.grad, mse_grad, rtol=1e-12, atol=1e-15)


def test_latent_covariance_is_the_covariance_of_the_mixture_over_z():
    """diag(d) + L Lᵀ = E_s diag σ_s² + (1/S) Σ_s (μ_s − μ)(μ_s − μ)ᵀ, and its diagonal is the ANP's variance."""
    from sciflow.models.probconserv import latent_covariance

    g = torch.Generator().manual_seed(3)
    S, N = 7, 12
    ms = torch.randn(S, N, generator=g, dtype=torch.float64)
    vs = 0.1 + torch.rand(S, N, generator=g, dtype=torch.float64)
    mean = ms.mean(0)
    var = vs.mean(0) + ms.var(0, unbiased=False)  # the ANP's marginal variance (law of total variance)
    d, L = latent_covariance(mean, var, ms)
    exact = torch.diag(vs.mean(0)) + (ms - mean).T @ (ms - mean) / S
    assert (torch.diag(d) + L @ L.T - exact).abs().max() < 1e-14
    assert (d + (L ** 2).sum(1) - var).abs().max() < 1e-14


def _front_mixture(bias: float, seed: int):
    """z draws of a square-root front (1 − x/s)₊^½ whose position s scatters around 0.5 + bias; the truth has s = 0.5."""
    from sciflow.problems.porous_medium import trapezoid_weights

    x = torch.linspace(0, 1, 201, dtype=torch.float64)

    def profile(s):
        return (1 - x / s).clamp(min=0) ** 0.5

    s = 0.5 + bias + 0.02 * torch.randn(64, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    ms = torch.stack([profile(si) for si in s])
    truth = profile(torch.tensor(0.5, dtype=torch.float64))
    G = trapezoid_weights(x)[None]
    return ms, truth, G, G @ truth


@pytest.mark.parametrize("bias", [-0.03, 0.03])
def test_the_latent_covariance_moves_a_misplaced_front_where_the_diagonal_one_piles_up_mass(bias):
    """When the draws differ by where the front is, Eq. (6) on their covariance shifts the front to
    carry the missing mass; on diag σ² it adds the mass where σ peaks, at the front. Both conserve."""
    from sciflow.models.probconserv import apply_update, latent_covariance

    ms, truth, G, b = _front_mixture(bias, seed=0)
    mean, var = ms.mean(0), ms.var(0, unbiased=False) + 1e-6
    d, L = latent_covariance(mean, var, ms)
    mse = {}
    for name, (diag, factor) in {"diagonal": (var, None), "latent": (d, L)}.items():
        mu, _ = apply_update(mean, diag, G, b, "probconserv", 0.0, factor)
        assert abs(float(G @ mu - b)) < 1e-14
        mse[name] = float(((mu - truth) ** 2).mean())
    raw = float(((mean - truth) ** 2).mean())
    assert mse["latent"] < 0.3 * mse["diagonal"] < 0.3 * raw


def test_posterior_samples_with_a_covariance_factor_conserve_and_have_the_posterior_covariance():
    from sciflow.models.conservation_update import posterior_samples
    from sciflow.models.probconserv import latent_covariance

    ms, _, G, b = _front_mixture(0.02, seed=1)
    ms = ms[:, ::10]  # 21 points keep the empirical covariance cheap
    G = G[:, ::10] * 10
    mean, var = ms.mean(0), ms.var(0, unbiased=False) + 1e-4
    d, L = latent_covariance(mean, var, ms)
    g = torch.Generator().manual_seed(2)
    u = posterior_samples(mean, d, G, b, 40000, 0.0, g, L)
    assert (u @ G.T - b).abs().max() <= 1e-12
    post = conservation_update(mean, d, G, b, 0.0, factor=L, full_cov=True)
    assert (torch.cov(u.T) - post.cov).abs().max() < 0.03 * post.var.max()
    assert (u.mean(0) - post.mean).abs().max() < 5 * (post.var.max() / 40000) ** 0.5


def test_an_unknown_covariance_gives_one_error_naming_the_key():
    from sciflow.errors import SciflowError
    from sciflow.models.probconserv import ProbConservANP
    from sciflow.problems.base import build_problem

    with pytest.raises(SciflowError, match=r"model\.covariance: 'full' is not one of \('diagonal', 'latent'\)"):
        ProbConservANP(build_problem({"name": "gpme_pme"}), hidden=16, heads=2, covariance="full")


def _front_case(n=101, seed=0):
    """A PME-like slice: a ramp with a front at 0.5, noisy, and σ² peaked at the front (as the ANP's)."""
    from sciflow.problems.porous_medium import trapezoid_weights

    g = torch.Generator().manual_seed(seed)
    x = torch.linspace(0, 1, n, dtype=torch.float64)
    mu = torch.relu(0.5 - x) + 0.02 * torch.randn(n, generator=g, dtype=torch.float64)
    var = torch.full((n,), 1e-6, dtype=torch.float64)
    var[(x - 0.5).abs() < 0.03] = 0.04
    return x, trapezoid_weights(x)[None], mu, var


def test_bounded_update_is_eq6_when_no_bound_binds_and_a_kkt_point_when_they_do():
    from sciflow.models.conservation_update import bounded_update

    x, w, mu, var = _front_case()
    b = torch.tensor([0.125], dtype=torch.float64)
    eq6 = conservation_update(mu, var, w, b)
    loose, free = bounded_update(mu, var, w, b, -10.0, 10.0)
    assert free.all() and (loose.mean - eq6.mean).abs().max() < 1e-14 and (loose.var - eq6.var).abs().max() < 1e-14

    for target in (0.125 - 0.01, 0.125 + 0.02):  # remove mass (digs below 0) / add mass (piles above the top)
        post, free = bounded_update(mu, var, w, torch.tensor([target], dtype=torch.float64), 0.0, 0.45)
        u = post.mean
        assert abs(float(w[0] @ u) - target) < 1e-15 and u.min() >= 0 and u.max() <= 0.45
        assert (~free).any() and free.any()
        # KKT of min Σ (u − μ)²/σ² s.t. wᵀu = b, 0 ≤ u ≤ 0.45: one multiplier moves every free point ...
        lam = (u - mu)[free] / (w[0] * var)[free]
        assert (lam - lam[0]).abs().max() <= 1e-9 * lam.abs().max()
        # ... and each clamped point sits at the bound its unconstrained move would cross
        reach = mu + lam[0] * w[0] * var
        at_lo, at_hi = (~free) & (u == 0.0), (~free) & (u == 0.45)
        assert (at_lo | at_hi)[~free].all()
        assert (reach[at_lo] <= 1e-12).all() and (reach[at_hi] >= 0.45 - 1e-12).all()
        assert (post.var[~free] == var[~free]).all() and (post.var[free] <= var[free]).all()


def test_bounded_update_on_time_slices_and_its_errors():
    from sciflow.errors import SciflowError
    from sciflow.models.conservation_update import bounded_posterior_samples, bounded_update

    x, w, mu, var = _front_case()
    G = torch.kron(torch.eye(3, dtype=torch.float64), w)  # three slices, one row each
    b = torch.tensor([0.10, 0.125, 0.15], dtype=torch.float64)
    post, _ = bounded_update(mu.repeat(3), var.repeat(3), G, b, 0.0, 1.0)
    assert (G @ post.mean - b).abs().max() < 1e-15 and post.mean.min() >= 0
    draws = bounded_posterior_samples(mu, var, w, torch.tensor([0.14], dtype=torch.float64), 0.0, 0.45, 64,
                                      torch.Generator().manual_seed(1))
    one, free = bounded_update(mu, var, w, torch.tensor([0.14], dtype=torch.float64), 0.0, 0.45)
    assert (draws @ w[0] - 0.14).abs().max() < 1e-14
    assert (draws[:, ~free] == one.mean[~free]).all() and draws[:, free].std(0).min() > 0
    with pytest.raises(SciflowError, match="no state within the bounds"):
        bounded_update(mu, var, w, torch.tensor([0.5], dtype=torch.float64), 0.0, 0.45)  # ∫ 0.45 dx < 0.5
    with pytest.raises(SciflowError, match="share points"):
        bounded_update(mu, var, torch.cat([w, w]), torch.tensor([0.1, 0.1], dtype=torch.float64), 0.0, 1.0)


@pytest.mark.parametrize("name", ["gpme_heat", "gpme_pme", "gpme_stefan"])
def test_every_exact_gpme_solution_obeys_its_maximum_principle_bounds_and_reaches_them(name):
    from sciflow.problems.base import ValueBounds, build_problem

    p = build_problem({"name": name})
    assert isinstance(p, ValueBounds)
    for theta in (*p.test_values, *p.train_range):
        grid = p.grid(41, 401)
        tt, xx = grid.points[:, 0], grid.points[:, 1]
        u = p.solution(tt, xx, torch.tensor(theta, dtype=torch.float64))
        lo, hi = p.value_bounds(tt, theta)
        assert (u >= lo - 1e-12).all() and (u <= hi + 1e-12).all()
        last = tt == tt.max()  # at the last time the data's extremes are met somewhere on the slice
        assert abs(float(u[last].max() - hi[last].max())) < 1e-9 or name == "gpme_heat"
    heat = build_problem({"name": "gpme_heat"})
    top = heat.solution(torch.tensor(0.0), torch.tensor(torch.pi / 2), torch.tensor(1.0))  # max of u(x, 0) = sin x
    assert float(heat.value_bounds(torch.tensor(0.0))[1]) == 1.0 == float(top)


def test_bounded_prediction_of_an_anp_conserves_within_bounds():
    from sciflow.models.probconserv import ProbConservANP
    from sciflow.problems.base import build_problem

    for name in ("gpme_pme", "gpme_stefan"):
        p = build_problem({"name": name})
        torch.manual_seed(0)
        model = ProbConservANP(p, hidden=16, heads=2, self_attention_layers=1, samples=4).eval()
        grid = p.grid(11, 21)
        G, b = p.constraints(grid)
        lo, hi = p.value_bounds(grid.points[:, 0])
        d = p.draw_functions(1, generator=torch.Generator().manual_seed(0), theta=torch.tensor([p.param]), grid=grid)
        pred = model.predict_constrained(d["xc"][0], d["yc"][0], grid, update="bounded")
        u = pred.mean[:, 0]
        assert (G @ u - b).abs().max() <= 1e-12
        assert (u >= lo).all() and (u <= hi + 1e-12).all()


def test_paper_protocol_evaluates_the_bounded_update():
    """An exact PME slice shifted down by 0.02 with a uniform σ²: both updates put the lost mass back
    uniformly, conserve to round-off and find the front; the trapezoid rule undercounts the slice's mass,
    so Eq. (6) puts back a little too much and lifts u(0) above the inflow value (mt)^{1/m}: the bounded
    update holds it there and is closer to the exact slice."""
    from sciflow.evaluation.probconserv_protocol import evaluate_paper_protocol
    from sciflow.problems.base import build_problem

    pme = build_problem({"name": "gpme_pme"})
    rows, fronts = evaluate_paper_protocol(_ExactPlusOffset(pme, 3.0, -0.02, 1e-4), pme,
                                           {"ANP": ("none", 0.0), "ProbConserv": ("probconserv", 0.0),
                                            "ProbConserv-bounded": ("bounded", 0.0)},
                                           test_values=[3.0], functions=2, samples=1, front_samples=50)
    anp, pc, bounded = rows
    assert bounded["conservation_error_max"] <= 1e-12 and bounded["mse"] < pc["mse"]
    assert bounded["mse"] < 1e-2 * anp["mse"] and bounded["front_error"] <= 3 / 200
    assert fronts[3.0]["draws"]["ProbConserv-bounded"][0].shape == (50,)


def test_a_bounded_update_with_a_noise_or_a_latent_covariance_is_refused_naming_the_key():
    from sciflow.errors import SciflowError
    from sciflow.models.probconserv import ProbConservANP
    from sciflow.problems.base import build_problem

    p = build_problem({"name": "gpme_pme"})
    with pytest.raises(SciflowError, match="model.update: 'bounded'"):
        ProbConservANP(p, hidden=16, heads=2, update="bounded", sigma_g=1e-3)
    with pytest.raises(SciflowError, match="model.update: 'bounded'"):
        ProbConservANP(p, hidden=16, heads=2, update="bounded", covariance="latent")
