"""SimCSE (Gao et al., 2021) as a sentence-transformers loss."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.losses.merged_forward import embed_columns

from ..modeling.heads import simcse_mlp
from .checks import check_gradient_cache, check_objective
from .functional import info_nce
from .cache import CachedLossWithParameters, use_gradient_cache
from .gather import gather_with_grad, share_of_mean, world
from .mlm import MaskedLM, unwrap

SIMCSE_CITATION = """@inproceedings{gao2021simcse,
    title = {{SimCSE}: Simple Contrastive Learning of Sentence Embeddings},
    author = {Gao, Tianyu and Yao, Xingcheng and Chen, Danqi},
    booktitle = {Proceedings of the 2021 Conference on Empirical Methods in Natural Language Processing},
    year = {2021},
    url = {https://arxiv.org/abs/2104.08821}
}"""


class SimCSELoss(CachedLossWithParameters, nn.Module):
    """
    SimCSE: contrastive learning of sentence embeddings with in-batch negatives (InfoNCE at a low temperature).

    - **Unsupervised** (one text column): every sentence is encoded twice in ONE forward pass of `2B` rows; the
      dropout masks of the two copies differ, which makes the two views. The model must be in training mode.
    - **Supervised** (two columns, `(anchor, positive)`): the positive of row `i` is column 2 of row `i`.
    - **Supervised with hard negatives** (three or more columns): every further column is appended as extra logit
      columns; `hard_negative_weight` is added to each row's own hard negative (SimCSE's `--hard_negative_weight`,
      the logarithm of α).

    Args:
        model (`SentenceTransformer`): the model to train.
        temperature (`float`, *optional*, defaults to `0.05`): softmax temperature (`scale = 1 / temperature`).
        hard_negative_weight (`float`, *optional*, defaults to `0.0`): see above; `0.0` means no re-weighting.
        mlp_only_train (`bool`, *optional*, defaults to `False`): apply SimCSE's MLP (Linear + Tanh, owned by this
            loss) over the embeddings during training only; the saved model does not contain it. Use with the
            `cls_before_pooler` pooler to reproduce SimCSE's `--pooler_type cls --mlp_only_train`.
        do_mlm (`bool`, *optional*, defaults to `False`): add SimCSE's masked-language-model auxiliary term over
            the first column (a second forward pass of the masked text, 80/10/10 masking); the head (owned by the
            loss) is tied to the encoder's input embeddings.
        mlm_weight (`float`, *optional*, defaults to `0.1`): weight λ of the MLM term.
        mlm_probability (`float`, *optional*, defaults to `0.15`): share of tokens chosen for masking.
        gather_across_devices (`bool`, *optional*, defaults to `True`): under DDP, contrast each process's anchors
            with the positives and negatives of *all* processes (gathered with their gradients: world_size x batch
            negatives, the same gradients as one process on the concatenated batch). No effect in one process.
        mini_batch_size (`int`, *optional*): gradient caching (GradCache, Gao et al. 2021): embed the batch in
            mini-batches of this size without a graph, back-propagate the loss to the embeddings, then re-embed each
            mini-batch with its replayed dropout and push the cached gradients through. The same gradients as
            without caching, with memory that stays flat as the batch grows; about one extra forward pass of cost.
            `None` (default) embeds the whole batch at once. Not with `do_mlm`.

    References:
        - SimCSE: Simple Contrastive Learning of Sentence Embeddings: https://arxiv.org/abs/2104.08821
        - Original code: https://github.com/princeton-nlp/SimCSE (`simcse/models.py`, `cl_forward`)

    Requirements:
        1. Unsupervised: dropout active (training mode); without dropout the two views are identical.
        2. Supervised: the columns in order `(anchor, positive[, hard_negative, ...])`.

    Inputs:
        +------------------------------------------+--------+
        | Texts                                    | Labels |
        +==========================================+========+
        | (text,) single column (unsupervised)     | none   |
        +------------------------------------------+--------+
        | (anchor, positive) pairs                 | none   |
        +------------------------------------------+--------+
        | (anchor, positive, negative) triplets    | none   |
        +------------------------------------------+--------+

    Returns:
        The loss, or `{"contrastive": ..., "mlm": mlm_weight * ...}` with `do_mlm` in training mode (each component
        is logged).

    Relations:
        - Without MLP, MLM and hard-negative weight this equals sentence-transformers'
          `MultipleNegativesRankingLoss(model, scale=1 / temperature)` on `(text, text)` pairs (unsupervised)
          or on the same columns (supervised), with the same forward passes (unsupervised: one merged pass of
          both copies instead of one per column).

    Example:
        >>> loss = SimCSELoss(model, temperature=0.05)
        >>> trainer = SentenceTransformerTrainer(model=model, train_dataset=Dataset.from_dict({"text": texts}),
        ...                                      loss=loss)
    """

    def __init__(
        self,
        model: SentenceTransformer,
        temperature: float = 0.05,
        hard_negative_weight: float = 0.0,
        mlp_only_train: bool = False,
        do_mlm: bool = False,
        mlm_weight: float = 0.1,
        mlm_probability: float = 0.15,
        gather_across_devices: bool = True,
        mini_batch_size: int | None = None,
    ) -> None:
        super().__init__()
        check_objective(temperature, mlm_weight, mlm_probability)
        check_gradient_cache(mini_batch_size, do_mlm)
        self.model = model
        self.temperature = temperature
        self.hard_negative_weight = hard_negative_weight
        self.mlp_only_train = mlp_only_train
        self.do_mlm = do_mlm
        self.mlm_weight = mlm_weight
        self.mlm_probability = mlm_probability
        self.gather_across_devices = gather_across_devices
        use_gradient_cache(self, mini_batch_size)
        self.mlp = None
        if mlp_only_train:
            config = getattr(model.transformers_model, "config", None)
            self.mlp = simcse_mlp(model.get_embedding_dimension(), getattr(config, "initializer_range", 0.02))
        self.mlm = MaskedLM(model, mlm_probability) if do_mlm else None

    def forward(self, sentence_features: list[dict[str, Any]], labels: Tensor | None = None) -> Tensor | dict:
        if len(sentence_features) == 1:
            columns = [sentence_features[0], sentence_features[0]]
        else:
            columns = list(sentence_features)
        if self.mini_batch_size is not None:
            return self.forward_with_cache(columns, labels)
        # Unsupervised: both copies in one 2B-row forward (one padding width, two dropout masks). Supervised: the
        # anchors alone and the like-width candidates merged, so short hypotheses are not padded to the premises.
        embeddings = embed_columns(self.model, columns, separate_first=len(sentence_features) > 1)
        loss = self.compute_loss_from_embeddings(embeddings)
        if not (self.do_mlm and unwrap(self.model).training):  # masking is a training-time corruption
            return loss
        return {"contrastive": loss, "mlm": self.mlm_weight * self.mlm_loss(sentence_features[0])}

    def compute_loss_from_embeddings(self, embeddings: list[Tensor]) -> Tensor:
        """InfoNCE over `[anchors, positives, *negatives]`, after the training-only MLP when there is one."""
        if self.mlp is not None:
            embeddings = [self.mlp(e) for e in embeddings]
        anchors, positives, *negatives = embeddings
        objective = {"temperature": self.temperature, "hard_negative_weight": self.hard_negative_weight}
        if not (self.gather_across_devices and world()[1] > 1):
            return info_nce(anchors, positives, negatives, **objective)
        # the candidates of every process; this process's anchors
        positives, offset = gather_with_grad(positives)
        negatives = [gather_with_grad(negative)[0] for negative in negatives]
        total = info_nce(anchors, positives, negatives, offset=offset, reduction="sum", **objective)
        return share_of_mean(total, positives.size(0))

    def calculate_loss(self, reps: list[list[Tensor]], labels: Tensor | None = None, *,
                       with_backward: bool = False) -> Tensor:
        """GradCache step (2): the loss over the whole batch from the per-mini-batch embeddings (each column's
        mini-batches concatenated); with `with_backward`, back-propagated to those embeddings and returned detached."""
        loss = self.compute_loss_from_embeddings([torch.cat(column) for column in reps])
        return self.cache_step_two(loss, reps, with_backward)

    def mlm_loss(self, features: dict[str, Any]) -> Tensor:
        """Masked-LM cross-entropy of a second forward pass over the masked `features` (as SimCSE's `do_mlm`)."""
        masked, labels = self.mlm.mask(self.model, features)
        return self.mlm.loss(self.model, self.model(masked), labels)

    def get_config_dict(self) -> dict[str, Any]:
        config = {"temperature": self.temperature, "hard_negative_weight": self.hard_negative_weight,
                  "mlp_only_train": self.mlp_only_train, "do_mlm": self.do_mlm,
                  "gather_across_devices": self.gather_across_devices, "mini_batch_size": self.mini_batch_size}
        if self.do_mlm:
            config |= {"mlm_weight": self.mlm_weight, "mlm_probability": self.mlm_probability}
        return config

    @property
    def citation(self) -> str:
        return SIMCSE_CITATION
