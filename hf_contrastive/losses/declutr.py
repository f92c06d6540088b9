"""DeCLUTR (Giorgi et al., 2021) as a sentence-transformers loss."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.losses.merged_forward import embed_columns

from .checks import check_objective
from .functional import nt_xent
from .gather import gather_with_grad, share_of_mean, world
from .mlm import MaskedLM, unwrap

DECLUTR_CITATION = """@inproceedings{giorgi2021declutr,
    title = {{DeCLUTR}: Deep Contrastive Learning for Unsupervised Textual Representations},
    author = {Giorgi, John and Nitski, Osvald and Wang, Bo and Bader, Gary},
    booktitle = {Proceedings of the 59th Annual Meeting of the Association for Computational Linguistics and the
                 11th International Joint Conference on Natural Language Processing},
    year = {2021},
    url = {https://arxiv.org/abs/2006.03659}
}"""


class DeCLUTRLoss(nn.Module):
    """
    DeCLUTR: anchor spans and nearby positive spans of the same document; NT-Xent over `[anchors; positives]`, where
    each anchor's positives are averaged into one embedding and every other span in the batch is a negative
    (including the other anchors of the same document). With `do_mlm`, the anchors are masked *before* their forward
    pass, and that single pass gives both the anchor embeddings and the MLM term (as the original).

    Args:
        model (`SentenceTransformer`): the model to train (DeCLUTR pools with the mean).
        temperature (`float`, *optional*, defaults to `0.05`): NT-Xent temperature.
        do_mlm (`bool`, *optional*, defaults to `True`): add the MLM term on the masked anchors (training mode only).
        mlm_weight (`float`, *optional*, defaults to `1.0`): weight of the MLM term (the original adds it unweighted).
        mlm_probability (`float`, *optional*, defaults to `0.15`): share of anchor tokens masked.
        gather_across_devices (`bool`, *optional*, defaults to `True`): under DDP, every anchor and positive of
            every process is a candidate for each of this process's rows (gathered with their gradients: the same
            gradients as one process on the concatenated batch). No effect in one process.

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

    def __init__(
        self,
        model: SentenceTransformer,
        temperature: float = 0.05,
        do_mlm: bool = True,
        mlm_weight: float = 1.0,
        mlm_probability: float = 0.15,
        gather_across_devices: bool = True,
    ) -> None:
        super().__init__()
        check_objective(temperature, mlm_weight, mlm_probability)
        self.model = model
        self.temperature = temperature
        self.do_mlm = do_mlm
        self.mlm_weight = mlm_weight
        self.mlm_probability = mlm_probability
        self.gather_across_devices = gather_across_devices
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
        return {"contrastive": contrastive, "mlm": self.mlm_weight * self.mlm.loss(self.model, outputs, mlm_labels)}

    def compute_loss_from_embeddings(self, anchors: Tensor, positives: list[Tensor]) -> Tensor:
        """NT-Xent between the anchors and the mean of each anchor's positives (of every process, gathered)."""
        positives = torch.stack(positives).mean(dim=0)
        if not (self.gather_across_devices and world()[1] > 1):
            return nt_xent(anchors, positives, temperature=self.temperature)
        all_anchors, offset = gather_with_grad(anchors)
        all_positives, _ = gather_with_grad(positives)
        total = nt_xent(anchors, positives, temperature=self.temperature, all_anchors=all_anchors,
                        all_positives=all_positives, offset=offset, reduction="sum")
        return share_of_mean(total, 2 * all_anchors.size(0))

    def get_config_dict(self) -> dict[str, Any]:
        config = {"temperature": self.temperature, "do_mlm": self.do_mlm,
                  "gather_across_devices": self.gather_across_devices}
        if self.do_mlm:
            config |= {"mlm_weight": self.mlm_weight, "mlm_probability": self.mlm_probability}
        return config

    @property
    def citation(self) -> str:
        return DECLUTR_CITATION
