"""Our NT-Xent (DeCLUTR) and SupCon equal pytorch-metric-learning's `NTXentLoss` (the loss the original DeCLUTR code
trains with) and `SupConLoss` on the same embeddings — the peers of `python -m benchmarks` do identical work."""

import pytest
import torch

from hf_contrastive.losses.functional import nt_xent, supcon

losses = pytest.importorskip("pytorch_metric_learning.losses")


@pytest.mark.parametrize("temperature", [0.05, 0.5])
def test_nt_xent_equals_pml(temperature):
    torch.manual_seed(0)
    anchors, positives = torch.randn(6, 8, dtype=torch.float64), torch.randn(6, 8, dtype=torch.float64)
    expected = losses.NTXentLoss(temperature=temperature)(torch.cat([anchors, positives]), torch.arange(6).repeat(2))
    assert torch.allclose(nt_xent(anchors, positives, temperature=temperature), expected, rtol=1e-10)


@pytest.mark.parametrize("labels", [[0, 0, 1, 1, 2, 2, 0, 1, 2, 3, 3, 4], [0, 0, 1, 1, 2, 2, 0, 1, 2, 3, 3, 3]],
                         ids=["an-anchor-without-positive", "every-anchor-with-positives"])
def test_supcon_equals_pml(labels):
    torch.manual_seed(1)
    embeddings, labels = torch.randn(12, 8, dtype=torch.float64), torch.tensor(labels)
    expected = losses.SupConLoss(temperature=0.07)(embeddings, labels)
    got = supcon(embeddings, labels, temperature=0.07, anchors_without_positive="exclude", contrast_mode="all")
    assert torch.allclose(got, expected, rtol=1e-10)
