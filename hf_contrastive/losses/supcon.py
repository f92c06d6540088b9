"""Supervised contrastive learning (Khosla et al., 2020) as a sentence-transformers loss."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.losses.gradcache import CachedLossMixin
from sentence_transformers.base.losses.merged_forward import embed_columns

from .cache import use_gradient_cache
from .checks import check_gradient_cache, check_objective
from .functional import supcon

SUPCON_CITATION = """@inproceedings{khosla2020supervised,
    title = {Supervised Contrastive Learning},
    author = {Khosla, Prannay and Teterwak, Piotr and Wang, Chen and Sarna, Aaron and Tian, Yonglong and
              Isola, Phillip and Maschinot, Aaron and Liu, Ce and Krishnan, Dilip},
    booktitle = {Advances in Neural Information Processing Systems},
    year = {2020},
    url = {https://arxiv.org/abs/2004.11362}
}"""


class SupConLoss(CachedLossMixin, nn.Module):
    """
    Supervised contrastive loss: examples that share a label are pulled together, all others pushed apart.

    Every text column is a *view* of the example (e.g. a text and its paraphrase); `num_views > 1` encodes each
    column that many times in one forward pass, so dropout makes further views (SimCSE-style augmentation). All
    views of all examples are anchors; positives are the other views with the same label.

    Args:
        model (`SentenceTransformer`): the model to train.
        temperature (`float`, *optional*, defaults to `0.07`): softmax temperature (the paper's value).
        base_temperature (`float`, *optional*, defaults to `0.07`): the loss is scaled by
            `temperature / base_temperature`, as the reference implementation.
        num_views (`int`, *optional*, defaults to `1`): encodings per column (dropout views).
        mini_batch_size (`int`, *optional*): gradient caching (GradCache): embed in mini-batches of this size
            without a graph, then replay each (dropout included) to push the cached gradients through — the same
            gradients with memory that stays flat as the batch grows. `None` embeds the whole batch at once.

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

    def __init__(self, model: SentenceTransformer, temperature: float = 0.07, base_temperature: float = 0.07,
                 num_views: int = 1, mini_batch_size: int | None = None) -> None:
        super().__init__()
        check_objective(temperature)
        if not base_temperature > 0:
            raise ValueError(f"`base_temperature` must be > 0, got {base_temperature}.")
        if num_views < 1:
            raise ValueError(f"`num_views` must be >= 1, got {num_views}.")
        check_gradient_cache(mini_batch_size)
        self.model = model
        self.temperature = temperature
        self.base_temperature = base_temperature
        self.num_views = num_views
        use_gradient_cache(self, mini_batch_size)

    def forward(self, sentence_features: list[dict[str, Any]], labels: Tensor | None) -> Tensor:
        if labels is None:
            raise ValueError("SupConLoss needs class labels: give the dataset a `label` column.")
        views = list(sentence_features) * self.num_views
        if self.mini_batch_size is not None:
            return self.forward_cached(views, labels)
        return self.compute_loss_from_embeddings(embed_columns(self.model, views, separate_first=False), labels)

    def calculate_loss(self, reps: list[list[Tensor]], labels: Tensor | None = None, *,
                       with_backward: bool = False) -> Tensor:
        """GradCache step (2): SupCon from the per-mini-batch embeddings; with `with_backward`, back-propagated to
        them and returned detached."""
        loss = self.compute_loss_from_embeddings([torch.cat(view) for view in reps], labels)
        if with_backward:
            loss.backward()
            loss = loss.detach()
        return loss

    def compute_loss_from_embeddings(self, views: list[Tensor], labels: Tensor) -> Tensor:
        """SupCon over all views of all examples, the labels repeated per view."""
        return supcon(torch.cat(views), labels.to(views[0].device).repeat(len(views)),
                      temperature=self.temperature, base_temperature=self.base_temperature)

    def get_config_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "base_temperature": self.base_temperature,
                "num_views": self.num_views, "mini_batch_size": self.mini_batch_size}

    @property
    def citation(self) -> str:
        return SUPCON_CITATION
