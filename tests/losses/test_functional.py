import pytest
import torch

from hf_contrastive.losses.functional import cosine_logits, info_nce, nt_xent
from tests.helpers.references import naive_info_nce, naive_nt_xent


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("num_negatives", [0, 1, 2])
@pytest.mark.parametrize("temperature,hard_negative_weight", [(0.05, 0.0), (1.0, 0.0), (0.1, 0.7), (0.05, -1.5)])
def test_info_nce_matches_naive_loop(dtype, num_negatives, temperature, hard_negative_weight):
    generator = torch.Generator().manual_seed(num_negatives)
    anchors, positives = (torch.randn(5, 4, generator=generator, dtype=dtype) for _ in range(2))
    negatives = [torch.randn(5, 4, generator=generator, dtype=dtype) for _ in range(num_negatives)]
    got = info_nce(anchors, positives, negatives, temperature=temperature, hard_negative_weight=hard_negative_weight)
    expected = naive_info_nce(anchors, positives, negatives, temperature, hard_negative_weight)
    assert got.dtype == dtype
    tolerance = 1e-10 if dtype == torch.float64 else 1e-4
    assert got.item() == pytest.approx(expected, rel=tolerance, abs=tolerance)


def test_hard_negative_weight_only_touches_own_negative():
    anchors = torch.eye(3, dtype=torch.float64)
    positives = torch.eye(3, dtype=torch.float64)
    negatives = [anchors.roll(1, dims=0)]  # each row's own negative is another row's anchor
    unweighted = info_nce(anchors, positives, negatives, temperature=1.0)
    weighted = info_nce(anchors, positives, negatives, temperature=1.0, hard_negative_weight=2.0)
    assert weighted > unweighted
    # With no negative columns the weight has nothing to act on.
    assert info_nce(anchors, positives, temperature=1.0, hard_negative_weight=2.0) == info_nce(
        anchors, positives, temperature=1.0
    )


def test_info_nce_gradients_match_naive_autograd():
    generator = torch.Generator().manual_seed(0)
    anchors = torch.randn(4, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    positives = torch.randn(4, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    info_nce(anchors, positives, temperature=0.1).backward()
    fast = anchors.grad.clone()
    anchors.grad = None
    rows = []
    for i in range(4):
        logits = torch.stack([torch.cosine_similarity(anchors[i], p, dim=0) / 0.1 for p in positives])
        rows.append(torch.logsumexp(logits, 0) - logits[i])
    torch.stack(rows).mean().backward()
    assert torch.allclose(fast, anchors.grad)


def test_cosine_logits_is_scale_invariant():
    x = torch.randn(3, 5)
    assert torch.allclose(cosine_logits(x, x, 0.5), cosine_logits(7 * x, x, 0.5))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("temperature", [0.05, 0.5, 1.0])
def test_nt_xent_matches_naive_loop(dtype, temperature):
    generator = torch.Generator().manual_seed(7)
    anchors, positives = (torch.randn(6, 5, generator=generator, dtype=dtype) for _ in range(2))
    got = nt_xent(anchors, positives, temperature=temperature)
    tolerance = 1e-10 if dtype == torch.float64 else 1e-4
    assert got.item() == pytest.approx(naive_nt_xent(anchors, positives, temperature), rel=tolerance, abs=tolerance)
