"""Library twins of problem sets 03-05: an answer that lets the library (or torch) compute
what the question asks for is flagged, through the grader's own path
(:func:`vae_edu.grading.checks.evaluate`: the harness watches the declared twins).

Each answer below is numerically right, so without the twin declaration it would earn
``passed``; the test asserts ``twin`` instead, on the public and on a secret draw.
Questions without a twin here (``lg_posterior`` with per-pixel noise, ``slerp``,
``kl_free_bits`` through ``kl_std_normal``) have no library function of the same meaning.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import MultivariateNormal, Normal, kl_divergence

import vae_edu.losses as L
from vae_edu.grading.checks import evaluate
from vae_edu.grading.questions import QUESTIONS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def kl_free_bits_by_torch(mu, logvar, free_bits):
    per_dim = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0))
    return per_dim.mean(0).clamp(min=free_bits).sum()


def negative_elbo_by_library(logits, x, mu, logvar, mask=None):
    nll = F.binary_cross_entropy_with_logits(logits, x, weight=mask, reduction="none")
    return (nll.sum(1) + L.kl_std_normal(mu, logvar)).mean()


def iwae_weights_by_library(log_weights):
    k = log_weights.shape[0]
    weights = torch.exp(log_weights - L.iwae_bound(log_weights) - math.log(k))
    return weights, 1.0 / weights.square().sum(0)


def kl_normal_by_library(mu_q, logvar_q, mu_p, logvar_p):
    return L.kl_normal(mu_q, logvar_q, mu_p, logvar_p)


def gaussian_nll_by_library(x_hat, x, log_sigma2):
    return L.gaussian_nll(x_hat, x, logvar=log_sigma2)


def lg_log_evidence_by_torch(x, W, b, sigma):
    cov = W @ W.T + sigma**2 * torch.eye(len(b), dtype=W.dtype)
    return MultivariateNormal(b, cov).log_prob(x)


def cvae_loss_by_library(logits, x, mu_q, logvar_q, mu_p, logvar_p):
    return (L.bernoulli_nll(logits, x) + L.kl_normal(mu_q, logvar_q, mu_p, logvar_p)).mean()


TWIN_ANSWERS = [
    ("kl_free_bits", kl_free_bits_by_torch, "torch.distributions.kl.kl_divergence"),
    ("negative_elbo", negative_elbo_by_library, "vae_edu.losses.kl_std_normal"),
    ("iwae_weights", iwae_weights_by_library, "vae_edu.losses.iwae_bound"),
    ("kl_normal", kl_normal_by_library, "vae_edu.losses.kl_normal"),
    ("gaussian_nll_learned", gaussian_nll_by_library, "vae_edu.losses.gaussian_nll"),
    ("lg_log_evidence", lg_log_evidence_by_torch, "MultivariateNormal.log_prob"),
    ("cvae_loss", cvae_loss_by_library, "vae_edu.losses.kl_normal"),
]


@pytest.mark.parametrize(("qid", "answer", "twin"), TWIN_ANSWERS,
                         ids=[q for q, _, _ in TWIN_ANSWERS])
@pytest.mark.parametrize("seed", ["visible", "a-secret-seed"])
def test_the_library_version_is_flagged_not_passed(qid, answer, twin, seed):
    verdict = evaluate(qid, answer, seed=seed)
    assert verdict.status == "twin", (verdict.status, verdict.message)
    assert twin in verdict.message and not verdict.passed


@pytest.mark.parametrize("qid", ["kl_free_bits", "negative_elbo", "iwae_weights"])
def test_the_new_questions_declare_twins(qid):
    assert QUESTIONS[qid].twins


def test_an_own_answer_that_calls_no_twin_passes():
    def negative_elbo(logits, x, mu, logvar, mask=None):
        nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        if mask is not None:
            nll = nll * mask
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return (nll.sum(1) + kl).mean()

    assert evaluate("negative_elbo", negative_elbo).status == "passed"
