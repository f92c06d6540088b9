"""Supervised contrastive learning (Khosla et al., 2020) as a sentence-transformers loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.losses.merged_forward import embed_columns

from ..distributed import CrossProcess
from .base import ContrastiveLoss
from .cache import AutocastReplay
from .functional import AnchorsWithoutPositive, ContrastMode, supcon, supcon_anchor_count
from ..settings import GatherGradients, GatherSettings, GradCacheSettings, check_temperature

SUPCON_CITATION = """@inproceedings{khosla2020supervised,
    title = {Supervised Contrastive Learning},
    author = {Khosla, Prannay and Teterwak, Piotr and Wang, Chen and Sarna, Aaron and Tian, Yonglong and
              Isola, Phillip and Maschinot, Aaron and Liu, Ce and Krishnan, Dilip},
    booktitle = {Advances in Neural Information Processing Systems},
    year = {2020},
    url = {https://arxiv.org/abs/2004.11362}
}"""


@dataclass
class SupConSettings(GatherSettings, GradCacheSettings):
    """
    SupCon's hyperparameters (`SupConLoss` arguments), with the reference implementation's defaults:

    temperature (`float`, *optional*, defaults to `0.07`):
        Softmax temperature (the paper's value).
    base_temperature (`float`, *optional*, defaults to `0.07`):
        The loss is scaled by `temperature / base_temperature`, as the reference implementation.
    num_views (`int`, *optional*, defaults to `1`):
        Encodings per text column in one forward pass, so that dropout makes further views.
    anchors_without_positive (`str`, *optional*, defaults to `"exclude"`):
        An anchor alone in its class has no defined term. `exclude`: left out of the mean (the mean over the terms
        that exist, as pytorch-metric-learning's `SupConLoss`; the loss's scale does not depend on how many singletons
        a batch holds). `zero`: counted as 0 in the mean, as the reference code (HobbitLong/SupContrast `losses.py`,
        lines 98-104), whose loss is `N_pos / N` times `exclude`'s. With two or more views every anchor has a
        positive (its other views) and the two agree.
    contrast_mode (`str`, *optional*, defaults to `"all"`):
        `all`: every view of every example is an anchor (the reference's default). `one`: only the first view's rows
        are anchors, contrasted with every view (the reference's `contrast_mode='one'`, lines 59-61).
    """

    temperature: float = field(default=0.07, metadata={"help": "SupCon softmax temperature."})
    base_temperature: float = field(default=0.07, metadata={"help": "The loss is scaled by temperature / this."})
    num_views: int = field(default=1, metadata={"help": "Encodings (dropout views) per text column."})
    anchors_without_positive: AnchorsWithoutPositive = field(
        default="exclude", metadata={"help": "A singleton anchor: left out of the mean, or 0 in it (the reference's)."}
    )
    contrast_mode: ContrastMode = field(
        default="all", metadata={"help": "The anchors: all (every view) or one (the first view only)."}
    )

    def check_fields(self) -> None:
        check_temperature(self.temperature)
        check_temperature(self.base_temperature, "base_temperature")
        if self.num_views < 1:
            raise ValueError(f"`num_views` must be >= 1, got {self.num_views}.")


def gathered_supcon(views: list[Tensor], labels: Tensor, processes: CrossProcess,
                    classes: Callable[[Tensor], Tensor] | None = None, *,
                    anchors_without_positive: str = SupConSettings.anchors_without_positive,
                    contrast_mode: str = SupConSettings.contrast_mode, **objective: float) -> Tensor:
    """This process's loss of SupCon over the views and labels of every gathered process (each view gathered in rank
    order, as one process would hold the concatenated batch; in one process, the plain SupCon): the terms of its own
    rows' anchors (or, with local gradients, of every process's), turned into its loss by `processes.mean` over the
    anchors counted across all processes. `classes` maps the gathered labels to SupCon classes (e.g.
    `instance_labels`, which must see every process's labels to stay unique)."""
    gathered = [processes.gather(view) for view in views]
    total = gathered[0][0].size(0)
    all_labels = processes.gather(labels)[0]
    if classes is not None:
        all_labels = classes(all_labels)
    queries = [processes.queries(view, offset, rows) for view, (rows, offset) in zip(views, gathered)]
    own = queries[0][1] + torch.arange(queries[0][0].size(0), device=labels.device)
    self_columns = torch.cat([own + view * total for view in range(len(views))])
    options = {"anchors_without_positive": anchors_without_positive, "contrast_mode": contrast_mode,
               "num_views": len(views)}
    loss = supcon(torch.cat([rows for rows, _ in queries]), all_labels[own].repeat(len(views)),
                  candidates=torch.cat([rows for rows, _ in gathered]), candidate_labels=all_labels.repeat(len(views)),
                  self_columns=self_columns, reduction="sum", **options, **objective)
    return processes.mean(loss, supcon_anchor_count(all_labels.repeat(len(views)), **options))


class SupConLoss(AutocastReplay, ContrastiveLoss):
    """
    Supervised contrastive loss: examples that share a label are pulled together, all others pushed apart.

    Every text column is a *view* of the example (e.g. a text and its paraphrase); `num_views > 1` encodes each
    column that many times in one forward pass, so dropout makes further views (SimCSE-style augmentation). All
    views of all examples are anchors; positives are the other views with the same label.

    Args:
        model (`SentenceTransformer`): the model to train.
        temperature, base_temperature, num_views: see `SupConSettings`.
        mini_batch_size: gradient caching, see `GradCacheSettings`.
        anchors_without_positive, contrast_mode: the reference code's mean and anchors, see `SupConSettings`.
        gather_across_devices, gather_gradients: the views and labels of every process are candidates under DDP,
            see `GatherSettings`.

    References:
        - Supervised Contrastive Learning: https://arxiv.org/abs/2004.11362
        - Reference code: https://github.com/HobbitLong/SupContrast (`losses.py`)

    Requirements:
        1. A `label` column (class ids); batches with several examples per class give positives.
        2. `num_views > 1` needs dropout (training mode) to make the views differ.

    Inputs:
        +-----------------------------------------+--------------+
        | Texts                                   | Labels       |
        +=========================================+==============+
        | (text,) or (view_1, view_2, ...)        | class ids    |
        +-----------------------------------------+--------------+

    Relations:
        - SetFit's `SupConLoss` is the single-view case (`num_views=1`, one column), without the anchors-without-
          positive handling (see `hf_contrastive.losses.functional.supcon`).

    Example:
        >>> loss = SupConLoss(model, temperature=0.07)
        >>> trainer = SentenceTransformerTrainer(model=model, loss=loss,
        ...                                      train_dataset=Dataset.from_dict({"text": texts, "label": labels}))
    """

    settings_class = SupConSettings
    citation = SUPCON_CITATION

    def __init__(self, model: SentenceTransformer, temperature: float = SupConSettings.temperature,
                 base_temperature: float = SupConSettings.base_temperature, num_views: int = SupConSettings.num_views,
                 anchors_without_positive: AnchorsWithoutPositive = SupConSettings.anchors_without_positive,
                 contrast_mode: ContrastMode = SupConSettings.contrast_mode,
                 mini_batch_size: int | None = SupConSettings.mini_batch_size,
                 gather_across_devices: bool = SupConSettings.gather_across_devices,
                 gather_gradients: GatherGradients = SupConSettings.gather_gradients) -> None:
        super().__init__(model, temperature=temperature, base_temperature=base_temperature, num_views=num_views,
                         anchors_without_positive=anchors_without_positive, contrast_mode=contrast_mode,
                         mini_batch_size=mini_batch_size, gather_across_devices=gather_across_devices,
                         gather_gradients=gather_gradients)

    def forward(self, sentence_features: list[dict[str, Any]], labels: Tensor | None) -> Tensor:
        if labels is None:
            raise ValueError("SupConLoss needs class labels: give the dataset a `label` column.")
        views = list(sentence_features) * self.num_views
        if self.mini_batch_size is not None:
            return self.forward_cached(views, labels)
        return self.compute_loss_from_embeddings(embed_columns(self.model, views, separate_first=False), labels)

    def compute_loss_from_embeddings(self, views: list[Tensor], labels: Tensor) -> Tensor:
        """SupCon over all views of all examples, the labels repeated per view (of every process, gathered)."""
        return gathered_supcon(views, labels.to(views[0].device).view(-1), CrossProcess.of(self),
                               anchors_without_positive=self.anchors_without_positive,
                               contrast_mode=self.contrast_mode, temperature=self.temperature,
                               base_temperature=self.base_temperature)
