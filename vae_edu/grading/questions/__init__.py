"""Every graded question of the course, by id.

The id is also the ``grade_id`` of the question's test cell in ``solutions/`` and the
column of ``grades.csv``. Points live in the solution notebooks (nbgrader metadata), the
reference computations here.
"""

from __future__ import annotations

from . import hint_texts  # noqa: F401  (hint levels)
from .autoencoders import (
    AutoencoderQuestion,
    ContractivePenaltyQuestion,
    OptimalDenoiserQuestion,
    ReconstructionLossQuestion,
    SaltAndPepperQuestion,
    SparseKLQuestion,
)
from .base import Call, ModuleCase, Question, seed_for
from .colorization import GradientLossQuestion
from .colour import (
    HistogramWeightsQuestion,
    MahalanobisQuestion,
    StableMDNQuestion,
    TrainMDNQuestion,
)
from .conditional import ConditionInputQuestion, SlerpQuestion, TinyCVAEQuestion
from .conv import (
    ConvOutQuestion,
    ConvParamsQuestion,
    ConvTransposeOutQuestion,
    TrainConvVAEQuestion,
)
from .cvae import ClusterAccuracyQuestion, CVAELossQuestion, TrainCVAEQuestion
from .prob import EvidenceQuestion, PosteriorQuestion, TrainIWAEQuestion
from .regularised import PCAReconstructQuestion, TiedContractiveQuestion
from .stacked import RidgeProbeQuestion, TrainStackQuestion
from .vae import (
    IWAEWeightsQuestion,
    KLFreeBitsQuestion,
    LogWeightsQuestion,
    NegativeELBOQuestion,
    ReparameterizeQuestion,
)
from .vae_nn import (
    GaussianNLLQuestion,
    KLNormalQuestion,
    OptimalSigmaQuestion,
    TrainVAEQuestion,
)

__all__ = ["QUESTIONS", "Call", "ModuleCase", "Question", "get_question", "seed_for"]

#: All questions by id, in course order.
QUESTIONS: dict[str, Question] = {
    q.id: q
    for q in (
        AutoencoderQuestion(),
        ReconstructionLossQuestion(),
        PCAReconstructQuestion,
        SaltAndPepperQuestion(),
        SparseKLQuestion(),
        ContractivePenaltyQuestion(),
        TiedContractiveQuestion,
        OptimalDenoiserQuestion(),
        ReparameterizeQuestion(),
        KLFreeBitsQuestion(),
        NegativeELBOQuestion(),
        KLNormalQuestion,
        GaussianNLLQuestion,
        OptimalSigmaQuestion,
        TrainVAEQuestion(),
        LogWeightsQuestion(),
        IWAEWeightsQuestion(),
        EvidenceQuestion,
        PosteriorQuestion,
        TrainIWAEQuestion(),
        ConditionInputQuestion(),
        TinyCVAEQuestion(),
        SlerpQuestion,
        CVAELossQuestion,
        ClusterAccuracyQuestion,
        TrainCVAEQuestion(),
        GradientLossQuestion(),
        HistogramWeightsQuestion,
        MahalanobisQuestion,
        StableMDNQuestion,
        TrainMDNQuestion(),
        ConvOutQuestion,
        ConvTransposeOutQuestion,
        ConvParamsQuestion,
        TrainConvVAEQuestion(),
        RidgeProbeQuestion,
        TrainStackQuestion(),
    )
}


def get_question(question_id: str) -> Question:
    """The question with this id, or a ``KeyError`` that lists the known ids."""
    try:
        return QUESTIONS[question_id]
    except KeyError:
        raise KeyError(
            f"no graded question {question_id!r}; known questions: {', '.join(QUESTIONS)}"
        ) from None
