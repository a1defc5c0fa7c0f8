"""Attentive neural process (Kim et al., ICLR 2019), the black-box model of ProbConserv.

Shapes: contexts xc (B, Nc, D), yc (B, Nc, C); targets xt (B, Nt, D); hidden width H.

* deterministic path:  r_i = SelfAttn(MLP([xc_i, yc_i]))            (B, Nc, H)
                       r*(x) = CrossAttn(q = φ(x), k = φ(xc), v = r)  (B, Nt, H)
* latent path:         s = mean_i SelfAttn(MLP([xc_i, yc_i]))        (B, H)
                       q(z | C) = N(μ_z(s), σ_z(s)²)                 z (B, H)
* decoder:             p(y | x, r*(x), z) = N(μ(·), σ(·)²),  σ = σ_min + softplus(·)

``cross_attention_layers`` stacks the cross-attention (query ← output of the previous layer);
``decoder_hidden``/``decoder_layers`` size the decoder MLP; ``latent_std`` is the latent scale's
form: ``bounded`` σ_z = 0.1 + 0.9·sigmoid(·) (Le et al. 2018) or ``free`` σ_z = exp(½·log σ_z²)
(the ProbConserv public code). The ProbConserv paper's network (Hansen et al. 2023, code
amazon-science/probconserv, ``attentive_neural_process/module.py``) is hidden 128, 4 heads, two
self-attention layers in each encoder, two cross-attention layers, a decoder of three hidden
layers of width 3·128, ``latent_std: free`` and σ_min = 1e-3.

Training maximises the ELBO (Kim et al. Eq. 3): E_{q(z|C∪T)} log p(y_T | x_T, r*, z) − KL(q(z|C∪T) ‖ q(z|C)),
here per target point (the log-likelihood term is averaged over targets, KL divided by Nt).

The predictive distribution at targets is a mixture over z ~ q(z | C); ``predict`` returns its
sample-averaged mean and variance (law of total variance over S samples):
mean = (1/S) Σ_s μ_s, var = (1/S) Σ_s σ_s² + (1/S) Σ_s (μ_s − mean)².
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from sciflow.errors import SciflowError

LATENT_STD = ("bounded", "free")


def _mlp(n_in: int, hidden: int, n_out: int, layers: int = 2) -> nn.Sequential:
    mods, d = [], n_in
    for _ in range(layers - 1):
        mods += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    mods.append(nn.Linear(d, n_out))
    return nn.Sequential(*mods)


class MultiHeadAttention(nn.Module):
    """softmax(Q Kᵀ/√d) V over ``heads`` heads (Vaswani et al. 2017): q (B, Nq, H), k, v (B, Nk, H) → (B, Nq, H).

    Written out (not the fused kernel) so that second derivatives with respect to the query
    inputs exist (SoftC residuals).
    """

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(hidden, hidden) for _ in range(4))

    def forward(self, q, k, v):
        B, Nq, H = q.shape
        h, d = self.heads, H // self.heads
        Q = self.wq(q).view(B, Nq, h, d).transpose(1, 2)
        K = self.wk(k).view(B, -1, h, d).transpose(1, 2)
        V = self.wv(v).view(B, -1, h, d).transpose(1, 2)
        att = torch.softmax((Q / d ** 0.5) @ K.transpose(-1, -2), -1)
        return self.wo((att @ V).transpose(1, 2).reshape(B, Nq, H))


class AttentionBlock(nn.Module):
    """Multi-head attention with residual connections and layer norms: (B, Nq, H) → (B, Nq, H)."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.attn = MultiHeadAttention(hidden, heads)
        self.norm = nn.LayerNorm(hidden)
        self.ff = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.norm2 = nn.LayerNorm(hidden)

    def forward(self, q, k, v):
        h = self.norm(q + self.attn(q, k, v))
        return self.norm2(h + self.ff(h))


def _single_cross_attention_keys(state_dict, prefix, *_):
    """Checkpoints written when the cross-attention was one block name it ``cross.*``: read it as ``cross.0.*``."""
    old = prefix + "cross."
    for key in [k for k in state_dict if k.startswith(old) and not k[len(old):].split(".")[0].isdigit()]:
        state_dict[old + "0." + key[len(old):]] = state_dict.pop(key)


class AttentiveNeuralProcess(nn.Module):
    """ANP: ``forward(xc, yc, xt, yt)`` → (mean (B,Nt,C), std (B,Nt,C), kl (B,)); ``predict`` for inference.

    ``input_lo``/``input_hi`` (D,) map inputs affinely to [−1, 1] before the networks.
    """

    def __init__(self, dim_x: int = 2, dim_y: int = 1, hidden: int = 64, heads: int = 4, self_attention_layers: int = 2,
                 min_std: float = 0.01, input_lo=None, input_hi=None, cross_attention_layers: int = 1,
                 decoder_hidden: int | None = None, decoder_layers: int = 2, latent_std: str = "bounded"):
        super().__init__()
        if latent_std not in LATENT_STD:
            raise SciflowError(f"model.latent_std: '{latent_std}' is not one of {LATENT_STD}")
        if cross_attention_layers < 1 or decoder_layers < 1 or min_std <= 0:
            raise SciflowError("model.cross_attention_layers ≥ 1, model.decoder_layers ≥ 1 and model.min_std > 0 "
                               f"are needed (got {cross_attention_layers}, {decoder_layers}, {min_std})")
        self.dim_x, self.dim_y, self.hidden = dim_x, dim_y, hidden
        self.min_std = float(min_std)
        self.latent_std = latent_std
        lo = torch.as_tensor(input_lo if input_lo is not None else [-1.0] * dim_x, dtype=torch.float32)
        hi = torch.as_tensor(input_hi if input_hi is not None else [1.0] * dim_x, dtype=torch.float32)
        self.register_buffer("in_shift", (lo + hi) / 2)
        self.register_buffer("in_scale", 2 / (hi - lo))
        self.det_embed = _mlp(dim_x + dim_y, hidden, hidden)
        self.det_self = nn.ModuleList(AttentionBlock(hidden, heads) for _ in range(self_attention_layers))
        self.key_embed = _mlp(dim_x, hidden, hidden)
        self.cross = nn.ModuleList(AttentionBlock(hidden, heads) for _ in range(cross_attention_layers))
        self.lat_embed = _mlp(dim_x + dim_y, hidden, hidden)
        self.lat_self = nn.ModuleList(AttentionBlock(hidden, heads) for _ in range(self_attention_layers))
        self.lat_head = _mlp(hidden, hidden, 2 * hidden)
        self.decoder = _mlp(3 * hidden, decoder_hidden or hidden, 2 * dim_y, layers=decoder_layers + 1)
        self._register_load_state_dict_pre_hook(_single_cross_attention_keys)

    # ------------------------------------------------------------------ paths
    def _norm(self, x):
        return (x - self.in_shift) * self.in_scale

    def latent(self, x, y):
        """q(z | (x, y)): (μ_z, σ_z), each (B, H)."""
        h = self.lat_embed(torch.cat([self._norm(x), y], -1))
        for blk in self.lat_self:
            h = blk(h, h, h)
        mu, raw = self.lat_head(h.mean(1)).chunk(2, -1)
        if self.latent_std == "free":
            return mu, torch.exp(0.5 * raw)
        return mu, 0.1 + 0.9 * torch.sigmoid(raw)

    def deterministic(self, xc, yc, xt):
        """r*(xt) (B, Nt, H)."""
        h = self.det_embed(torch.cat([self._norm(xc), yc], -1))
        for blk in self.det_self:
            h = blk(h, h, h)
        q, k = self.key_embed(self._norm(xt)), self.key_embed(self._norm(xc))
        for blk in self.cross:
            q = blk(q, k, h)
        return q

    def decode(self, xt, r, z):
        """(mean, std) (B, Nt, C) from targets (B, Nt, D), r* (B, Nt, H), z (B, H)."""
        q = self.key_embed(self._norm(xt))
        h = torch.cat([q, r, z[:, None, :].expand(-1, xt.shape[1], -1)], -1)
        mu, raw = self.decoder(h).chunk(2, -1)
        return mu, self.min_std + F.softplus(raw)

    # ------------------------------------------------------------------ training / inference
    def forward(self, xc, yc, xt, yt=None, generator=None):
        """Training pass: z ~ q(z | C ∪ T) (reparameterised); kl = KL(q(z|C∪T) ‖ q(z|C)) (B,).

        Without yt (or at eval time) z is the prior mean and kl is zero.
        """
        mu_c, sd_c = self.latent(xc, yc)
        if yt is not None:
            # xt enters q(z | C ∪ T) as data only, so d(mean_i)/d(xt_j) = 0 for j ≠ i (SoftC derivatives)
            mu_t, sd_t = self.latent(torch.cat([xc, xt.detach()], 1), torch.cat([yc, yt], 1))
            eps = torch.randn(mu_t.shape, generator=generator, dtype=mu_t.dtype, device=mu_t.device)
            z = mu_t + sd_t * eps
            kl = (torch.log(sd_c / sd_t) + (sd_t ** 2 + (mu_t - mu_c) ** 2) / (2 * sd_c ** 2) - 0.5).sum(-1)
        else:
            z, kl = mu_c, torch.zeros(xc.shape[0], dtype=xc.dtype, device=xc.device)
        mean, std = self.decode(xt, self.deterministic(xc, yc, xt), z)
        return mean, std, kl

    @torch.no_grad()
    def predict(self, xc, yc, xt, samples: int = 32, generator=None, chunk: int = 4096, return_samples: bool = False):
        """Sample-averaged predictive mean and variance at xt: (B, Nt, C) each [+ sample means (B, S, Nt, C)].

        z_s ~ q(z | C), s = 1..S; the targets are processed in chunks of ``chunk`` points.
        """
        mu_c, sd_c = self.latent(xc, yc)
        eps = torch.randn((samples,) + tuple(mu_c.shape), generator=generator, dtype=mu_c.dtype, device=mu_c.device)
        zs = mu_c[None] + sd_c[None] * eps  # (S, B, H)
        means, varis = [], []
        for i in range(0, xt.shape[1], chunk):
            xb = xt[:, i:i + chunk]
            r = self.deterministic(xc, yc, xb)
            ms, vs = [], []
            for z in zs:
                m, s = self.decode(xb, r, z)
                ms.append(m)
                vs.append(s ** 2)
            means.append(torch.stack(ms, 1))
            varis.append(torch.stack(vs, 1))
        ms, vs = torch.cat(means, 2), torch.cat(varis, 2)  # (B, S, Nt, C)
        mean = ms.mean(1)
        var = vs.mean(1) + ms.var(1, unbiased=False)
        if return_samples:
            return mean, var, ms
        return mean, var
