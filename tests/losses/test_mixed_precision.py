"""bf16 autocast (what `precision="bf16"` trains under) against fp32: every objective's loss and gradients on a tiny
model, with the similarities, the GradCache replay and the frozen reference in the path.

The tolerances, and why. Under CPU autocast the encoder's (and SimCSE's MLP's) matmuls run in bf16: 8 significant
bits, unit round-off 2**-8 ~ 0.4%. What must stay in fp32 is the softmax over the similarities: a cosine rounded to
bf16 is off by up to ~0.004 near 1, ~0.08 after a temperature of 0.05. Measured on this module's model (hidden 32,
mean pooling; its random embeddings are close together, mean pairwise cosine 0.92, which magnifies rounding):
- with the similarities in fp32 (`cosine_logits`), bf16 moves the loss by at most 9e-5 relatively and the
  gradients by at most 1.1e-2 (SimCSE with its MLP; the others 3e-4..8e-3);
- with the similarities left in bf16, the loss moved by 9e-4..7e-3 and the gradients by 1.2e-2..4e-2.
So the loss bound, 5e-4, holds the fp32 softmax with a 5x margin and catches a bf16 one in every objective; the
gradient bound, 3e-2, is the bf16 encoder's own noise on such a model (a sanity bound: an fp32 graph replayed for
bf16 GradCache embeddings, or a reference in the wrong mode, goes far past it)."""

import math
from contextlib import nullcontext

import pytest
import torch
import torch.nn.functional as F

from hf_contrastive.losses import DeCLUTRLoss, SFTContrastiveLoss, SimCSELoss, SupConLoss, cosine_logits
from hf_contrastive.modeling import build_sentence_transformer
from tests.helpers.encoder import build_tiny_encoder

LOSS_TOLERANCE, GRADIENT_TOLERANCE = 5e-4, 3e-2


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    return build_tiny_encoder(str(tmp_path_factory.mktemp("tiny-bert-32")), hidden_size=32)


def columns(model, sentences, count, rows=8):
    return [dict(model.preprocess(sentences[rows * i: rows * i + rows])) for i in range(count)]


OBJECTIVES = {
    "simcse-supervised": (lambda m: SimCSELoss(m, mlp_only_train=True, hard_negative_weight=0.5), 3, None),
    "simcse-gradcache": (lambda m: SimCSELoss(m, mlp_only_train=True, mini_batch_size=3), 2, None),
    "supcon": (lambda m: SupConLoss(m, num_views=2), 1, torch.tensor([0, 1, 2, 3] * 2)),
    "supcon-gradcache": (lambda m: SupConLoss(m, num_views=2, mini_batch_size=3), 1, torch.tensor([0, 1] * 4)),
    "declutr": (lambda m: DeCLUTRLoss(m, temperature=0.05), 3, None),
    "sft-contrastive-reference": (lambda m: SFTContrastiveLoss(m, num_labels=3, contrastive_weight=1.0,
                                                               reference="copy", classifier_dropout=0.0),
                                  1, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])),
}


def loss_and_gradients(model_dir, sentences, objective, bf16):
    build, count, labels = OBJECTIVES[objective]
    torch.manual_seed(0)
    model = build_sentence_transformer(model_dir, pooler="avg")
    loss = build(model)
    if objective.startswith("sft"):  # move the model away from its frozen copy, as fine-tuning would
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.05 * torch.randn_like(parameter))
    model.eval()  # no dropout: both precisions compute the same function
    features = columns(model, sentences, count)
    with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext():
        value = loss(features, labels)
    value = sum(value.values()) if isinstance(value, dict) else value
    value.backward()
    parameters = [p for p in loss.parameters() if p.grad is not None]
    return value.item(), torch.cat([p.grad.flatten() for p in parameters])


@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_bf16_loss_and_gradients_match_fp32(encoder_dir, sentences, objective):
    loss32, grads32 = loss_and_gradients(encoder_dir, sentences, objective, bf16=False)
    loss16, grads16 = loss_and_gradients(encoder_dir, sentences, objective, bf16=True)
    assert math.isfinite(loss16) and loss32 > 0
    assert abs(loss16 - loss32) <= LOSS_TOLERANCE * abs(loss32), (loss16, loss32)
    assert grads16.shape == grads32.shape and grads32.norm() > 0
    assert (grads16 - grads32).norm() <= GRADIENT_TOLERANCE * grads32.norm(), (grads16 - grads32).norm() / grads32.norm()


def test_similarities_are_fp32_under_autocast():
    """bf16 embeddings in, fp32 logits out: the cosines of the upcast embeddings, not rounded to bf16."""
    generator = torch.Generator().manual_seed(0)
    queries, candidates = (torch.randn(16, 32, generator=generator).bfloat16() for _ in range(2))
    candidates[0] = queries[0] + 0.01 * candidates[0]  # a near-duplicate: a cosine close to 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = cosine_logits(queries, candidates, temperature=0.05)
    expected = F.normalize(queries.double(), dim=-1) @ F.normalize(candidates.double(), dim=-1).T / 0.05
    assert logits.dtype == torch.float32
    assert torch.allclose(logits.double(), expected, atol=1e-4)
