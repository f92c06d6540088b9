"""DeCLUTR (Giorgi et al., 2021) as a sentence-transformers loss."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.losses.merged_forward import embed_columns

from ..distributed import CrossProcess, unwrap
from .base import ContrastiveLoss
from .functional import nt_xent
from .mlm import MaskedLM
from ..settings import GatherGradients, GatherSettings, MLMSettings, check_temperature

DECLUTR_CITATION = """@inproceedings{giorgi2021declutr,
    title = {{DeCLUTR}: Deep Contrastive Learning for Unsupervised Textual Representations},
    author = {Giorgi, John and Nitski, Osvald and Wang, Bo and Bader, Gary},
    booktitle = {Proceedings of the 59th Annual Meeting of the Association for Computational Linguistics and the
                 11th International Joint Conference on Natural Language Processing},
    year = {2021},
    url = {https://arxiv.org/abs/2006.03659}
}"""


@dataclass
class DeCLUTRSettings(GatherSettings, MLMSettings):
    """
    DeCLUTR's hyperparameters (`DeCLUTRLoss` arguments and `DeCLUTRConfig` fields), with the defaults of the original
    `training_config/declutr.jsonnet`:

    temperature (`float`, *optional*, defaults to `0.05`):
        NT-Xent temperature.
    do_mlm (`bool`, *optional*, defaults to `True`):
        MLM on the anchors, masked *before* their forward pass: one pass gives the anchor embeddings and the MLM
        term (training mode only).
    mlm_weight (`float`, *optional*, defaults to `1.0`):
        Weight of the MLM term (the original adds it unweighted).
    mlm_probability (`float`, *optional*, defaults to `0.15`):
        Share of anchor tokens masked.
    """

    temperature: float = field(default=0.05, metadata={"help": "NT-Xent temperature."})
    do_mlm: bool = field(default=True, metadata={"help": "MLM on the masked anchors, in their forward pass."})
    mlm_weight: float = field(default=1.0, metadata={"help": "Weight of the MLM term (the original: unweighted)."})

    def check_fields(self) -> None:
        check_temperature(self.temperature)


class DeCLUTRLoss(ContrastiveLoss):
    """
    DeCLUTR: anchor spans and nearby positive spans of the same document; NT-Xent over `[anchors; positives]`, where
    each anchor's positives are averaged into one embedding and every other span in the batch is a negative
    (including the other anchors of the same document). With `do_mlm`, the anchors are masked *before* their forward
    pass, and that single pass gives both the anchor embeddings and the MLM term (as the original).

    Args:
        model (`SentenceTransformer`): the model to train (DeCLUTR pools with the mean).
        temperature, do_mlm, mlm_weight, mlm_probability: see `DeCLUTRSettings`.
        gather_across_devices, gather_gradients: every anchor and positive of every process is a candidate under DDP
            (the original's `scale_fix: false` with `gather_gradients="local"`), see `GatherSettings`.

    References:
        - DeCLUTR: Deep Contrastive Learning for Unsupervised Textual Representations: https://arxiv.org/abs/2006.03659
        - Original code: https://github.com/JohnGiorgi/DeCLUTR (`declutr/model.py`)

    Inputs:
        +----------------------------------------------------------+--------+
        | Texts                                                    | Labels |
        +==========================================================+========+
        | (anchor, positive_1, ..., positive_P): P positives each  | none   |
        +----------------------------------------------------------+--------+

        The `DeCLUTRTrainer` samples these spans from documents, anew every epoch.

    Returns:
        `{"contrastive": ..., "mlm": mlm_weight * ...}` in training with `do_mlm`, else the contrastive loss.

    Example:
        >>> loss = DeCLUTRLoss(model, temperature=0.05)
        >>> loss([anchor_features, positive_features_1, positive_features_2])
    """

    settings_class = DeCLUTRSettings
    citation = DECLUTR_CITATION

    def __init__(
        self,
        model: SentenceTransformer,
        temperature: float = DeCLUTRSettings.temperature,
        do_mlm: bool = DeCLUTRSettings.do_mlm,
        mlm_weight: float = DeCLUTRSettings.mlm_weight,
        mlm_probability: float = DeCLUTRSettings.mlm_probability,
        gather_across_devices: bool = DeCLUTRSettings.gather_across_devices,
        gather_gradients: GatherGradients = DeCLUTRSettings.gather_gradients,
    ) -> None:
        super().__init__(model, temperature=temperature, do_mlm=do_mlm, mlm_weight=mlm_weight,
                         mlm_probability=mlm_probability, gather_across_devices=gather_across_devices,
                         gather_gradients=gather_gradients)
        self.mlm = MaskedLM(model, mlm_probability) if do_mlm else None

    def forward(self, sentence_features: list[dict[str, Any]], labels: Tensor | None = None) -> Tensor | dict:
        if len(sentence_features) < 2:
            raise ValueError(f"DeCLUTR needs an anchor column and at least one positive column, got "
                             f"{len(sentence_features)} column(s).")
        anchor_features, *positive_features = sentence_features
        with_mlm = self.do_mlm and unwrap(self.model).training  # DDP's wrapper keeps its own flag
        if with_mlm:
            masked, mlm_labels = self.mlm.mask(self.model, anchor_features)
            outputs = self.model(masked)
            anchors = outputs["sentence_embedding"]
        else:
            anchors = self.model(anchor_features)["sentence_embedding"]
        positives = embed_columns(self.model, positive_features, separate_first=False)
        contrastive = self.compute_loss_from_embeddings(anchors, positives)
        if not with_mlm:
            return contrastive
        return {"contrastive": contrastive,
                "mlm": self.mlm_weight * self.mlm.loss(self.model, [outputs], [mlm_labels])}

    def compute_loss_from_embeddings(self, anchors: Tensor, positives: list[Tensor]) -> Tensor:
        """NT-Xent between the anchors and the mean of each anchor's positives (of every process, gathered)."""
        positives = torch.stack(positives).mean(dim=0)
        processes = CrossProcess.of(self)
        all_anchors, offset = processes.gather(anchors)
        all_positives, _ = processes.gather(positives)
        # this process's rows (local gradients: every process's, as the original computes the whole batch's loss)
        anchors, offset = processes.queries(anchors, offset, all_anchors)
        positives, _ = processes.queries(positives, offset, all_positives)
        total = nt_xent(anchors, positives, temperature=self.temperature, all_anchors=all_anchors,
                        all_positives=all_positives, offset=offset, reduction="sum")
        return processes.mean(total, 2 * all_anchors.size(0))
