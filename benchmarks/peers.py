"""Peer losses that sentence-transformers lacks, from pytorch-metric-learning (`pip install pytorch-metric-learning`):
the loss the original DeCLUTR code trains with, and SupCon, each over embeddings from one forward pass per column,
as the original code and sentence-transformers' own losses embed."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class PMLLoss(nn.Module):
    """A pytorch-metric-learning loss as a sentence-transformers loss.

    - `pairs_from_positives=True` (DeCLUTR): columns `(anchor, positive_1, ...)`; each anchor's positives are averaged
      and the (anchor, mean positive) pair is a class of its own (the original's `get_embeddings_and_label`).
    - otherwise (SupCon): every column, `views` times, is a view of the row; the labels are the rows' classes.
    """

    def __init__(self, model: Any, loss: nn.Module, *, views: int = 1, pairs_from_positives: bool = False) -> None:
        super().__init__()
        self.model, self.loss, self.views, self.pairs_from_positives = model, loss, views, pairs_from_positives

    def forward(self, sentence_features: list[dict[str, Any]], labels: Tensor | None = None) -> Tensor:
        embeddings = [self.model(features)["sentence_embedding"] for features in list(sentence_features) * self.views]
        if self.pairs_from_positives:
            anchors, *positives = embeddings
            embeddings = [anchors, torch.stack(positives).mean(dim=0)]
            labels = torch.arange(anchors.size(0), device=anchors.device)
        return self.loss(torch.cat(embeddings), labels.to(embeddings[0].device).repeat(len(embeddings)))


def ntxent_peer(model: Any, temperature: float) -> PMLLoss:
    from pytorch_metric_learning.losses import NTXentLoss

    return PMLLoss(model, NTXentLoss(temperature=temperature), pairs_from_positives=True)


def supcon_peer(model: Any, temperature: float, views: int) -> PMLLoss:
    from pytorch_metric_learning.losses import SupConLoss

    return PMLLoss(model, SupConLoss(temperature=temperature), views=views)
