"""Problem sets 01 and 02: the references against independent computations, and the
library's own versions of each answer, run through the grader's path, get the ``twin``
verdict (no points), not ``passed``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from vae_edu.corruption import salt_and_pepper as library_salt_and_pepper
from vae_edu.grading.checks import evaluate
from vae_edu.grading.questions import QUESTIONS
from vae_edu.losses import (
    bernoulli_nll,
    contractive_penalty_autograd,
    sparse_kl_penalty,
)


def _twin(qid, answer):
    verdict = evaluate(qid, answer, seed="a-secret")
    assert verdict.status == "twin", verdict.message
    assert not verdict.passed


def test_the_library_salt_and_pepper_is_a_twin():
    _twin("salt_and_pepper", library_salt_and_pepper)


def test_bernoulli_nll_per_pixel_is_a_twin_of_the_emphasised_loss():
    def answer(logits, x, corrupted, alpha, beta):
        per_pixel = bernoulli_nll(logits.reshape(-1, 1), x.reshape(-1, 1)).reshape(x.shape)
        w = torch.where(corrupted, alpha, beta)
        return (w * per_pixel).sum(1).mean()

    _twin("emphasised_loss", answer)


def test_torch_pca_lowrank_is_a_twin_of_pca_reconstruct():
    def answer(train, test, k):
        mean = train.mean(0)
        _, _, v = torch.pca_lowrank(train, q=min(train.shape), center=True, niter=6)
        v = v[:, :k]
        return mean + (test - mean) @ v @ v.T

    _twin("pca_reconstruct", answer)


def test_autograd_through_the_library_penalty_is_a_twin_of_sparse_kl_grad():
    def answer(h, rho):
        h = h.clone().requires_grad_(True)
        return torch.autograd.grad(sparse_kl_penalty(h, rho), h)[0]

    def backward(h, rho):
        h = h.clone().requires_grad_(True)
        q = h.mean(0)
        (rho * torch.log(rho / q) + (1 - rho) * torch.log((1 - rho) / (1 - q))).sum().backward()
        return h.grad

    _twin("sparse_kl_grad", answer)
    _twin("sparse_kl_grad", backward)


def test_the_library_autograd_penalty_is_a_twin_of_two_layer_contractive():
    def answer(x, w1, b1, w2, b2):
        return contractive_penalty_autograd(
            lambda v: torch.sigmoid(torch.sigmoid(v @ w1.T + b1) @ w2.T + b2), x)

    _twin("two_layer_contractive", answer)


def test_sparse_kl_grad_reference_is_the_autograd_gradient():
    q = QUESTIONS["sparse_kl_grad"]
    for call in q.draw("a-secret"):
        h, rho = call.args
        h = h.clone().double().requires_grad_(True)
        (grad,) = torch.autograd.grad(sparse_kl_penalty(h, rho), h)
        torch.testing.assert_close(q.reference(call), grad.float(), rtol=1e-5, atol=1e-6)


def test_two_layer_contractive_reference_is_the_autograd_jacobian_norm():
    q = QUESTIONS["two_layer_contractive"]
    for call in q.draw("a-secret"):
        x, w1, b1, w2, b2 = (t.double() for t in call.args)
        exact = contractive_penalty_autograd(
            lambda v, w1=w1, b1=b1, w2=w2, b2=b2: torch.sigmoid(
                torch.sigmoid(v @ w1.T + b1) @ w2.T + b2), x)
        torch.testing.assert_close(q.reference(call), exact.float(), rtol=1e-5, atol=1e-7)


def test_emphasised_loss_with_unit_weights_is_the_bernoulli_nll():
    q = QUESTIONS["emphasised_loss"]
    from vae_edu.grading.questions.base import Call

    for call in q.draw("a-secret"):
        logits, x, corrupted, _, _ = call.args
        plain = Call((logits, x, corrupted, 1.0, 1.0))
        torch.testing.assert_close(q.reference(plain), bernoulli_nll(logits, x).mean())


def test_tied_autoencoder_reference_is_an_nn_module_with_tied_weights():
    q = QUESTIONS["TiedAutoencoder"]
    for case in q.draw("a-secret"):
        w1, b1, w2, b2, c1 = case.params
        x = case.calls[0].args[0]
        code = F.linear(torch.relu(F.linear(x, w1, b1)), w2, b2)
        logits = F.linear(torch.relu(F.linear(code, w2.T, b1)), w1.T, c1)
        torch.testing.assert_close(q.reference(case.calls[0], case), code)
        torch.testing.assert_close(q.reference(case.calls[1], case), logits)


def test_an_untied_decoder_is_told_it_should_reuse_the_weights():
    from vae_edu.models import Autoencoder

    class Untied(torch.nn.Module):
        def __init__(self, input_dim, hidden_dim, code_dim):
            super().__init__()
            self.inner = Autoencoder((input_dim, hidden_dim, code_dim), activation="relu")

        def encode(self, x):
            return self.inner.encode(x)

        def forward(self, x):
            return self.inner(x)

    verdict = evaluate("TiedAutoencoder", Untied)
    assert not verdict.passed and "tied weights" in verdict.message, verdict.message


def _log_mixture(x, means, var):
    sq = ((x[:, None, :] - means[None]) ** 2).sum(-1)
    return (torch.logsumexp(-sq / (2 * var), 1) - math.log(means.shape[0])
            - math.log(2 * math.pi * var))


def test_optimal_denoiser_reference_is_tweedies_formula():
    """E[x | x~] = x~ + sigma^2 grad log p_sigma(x~), p_sigma the noisy mixture."""
    q = QUESTIONS["optimal_denoiser"]
    for call in q.draw("a-secret"):
        x, means, s, sigma = call.args
        leaf = x.double().clone().requires_grad_(True)
        (score,) = torch.autograd.grad(
            _log_mixture(leaf, means.double(), s**2 + sigma**2).sum(), leaf)
        torch.testing.assert_close(q.reference(call).double(), x.double() + sigma**2 * score,
                                   rtol=1e-5, atol=1e-5)


def test_optimal_denoiser_beats_its_known_mistakes_on_the_denoising_error():
    """Monte Carlo: the reference has the smallest squared error of the candidates."""
    from vae_edu.grading.questions.autoencoders import _denoiser

    gen = torch.Generator().manual_seed(0)
    means, s, sigma = torch.tensor([[-1.5, 0.0], [1.5, 0.5]]), 0.5, 0.6
    clean = means[torch.randint(0, 2, (20000,), generator=gen)]
    clean = clean + s * torch.randn(clean.shape, generator=gen)
    noisy = clean + sigma * torch.randn(clean.shape, generator=gen)
    err = {name: float(((_denoiser(noisy, means, s, sigma, **kw) - clean) ** 2).sum(1).mean())
           for name, kw in {"best": {}, "clean var": {"resp_var": s**2},
                            "no shrink": {"shrink": 0.0}, "hard": {"hard": True}}.items()}
    assert min(err, key=err.get) == "best", err


def test_optimal_denoiser_mistakes_get_their_hints():
    from vae_edu.grading.questions.autoencoders import _denoiser

    for kw, hint in (({"resp_var": None, "shrink": 0.0}, "not mu_k itself"),
                     ({"hard": True}, "hard assignment")):
        verdict = evaluate("optimal_denoiser",
                           lambda x, m, s, sigma, kw=kw: _denoiser(x, m, s, sigma, **kw))
        assert not verdict.passed and hint in verdict.message, verdict.message
