"""SimCSE (Gao et al., 2021) as a sentence-transformers loss."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from torch import Tensor
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.losses.merged_forward import embed_columns

from ..distributed import CrossProcess, unwrap
from ..modeling.heads import simcse_mlp
from .base import ContrastiveLoss
from .cache import CachedLossWithParameters
from .functional import info_nce
from .mlm import MaskedLM
from ..settings import GatherGradients, GatherSettings, GradCacheSettings, MLMSettings, check_temperature

SIMCSE_CITATION = """@inproceedings{gao2021simcse,
    title = {{SimCSE}: Simple Contrastive Learning of Sentence Embeddings},
    author = {Gao, Tianyu and Yao, Xingcheng and Chen, Danqi},
    booktitle = {Proceedings of the 2021 Conference on Empirical Methods in Natural Language Processing},
    year = {2021},
    url = {https://arxiv.org/abs/2104.08821}
}"""

MLMColumns = Literal["all", "first"]
MLMDecoder = Literal["untied", "tied"]


@dataclass
class SimCSESettings(GatherSettings, GradCacheSettings, MLMSettings):
    """
    SimCSE's hyperparameters (`SimCSELoss` arguments and `SimCSEConfig` fields), with the paper's defaults:

    temperature (`float`, *optional*, defaults to `0.05`):
        Softmax temperature of InfoNCE (`scale = 1 / temperature`; the paper's best, Table D.1).
    hard_negative_weight (`float`, *optional*, defaults to `0.0`):
        Added to each row's own hard-negative logit after the temperature scaling: the logarithm of the paper's α
        (`0.0` is α = 1, no re-weighting).
    mlm_columns (`str`, *optional*, defaults to `"all"`):
        The texts of the MLM term (`do_mlm`): `all` masks every text the contrastive term sees, each independently
        (both dropout copies when unsupervised, every column when supervised), as the original collator
        (`train.py` lines 484-485 mask the whole flattened batch); `first` only the first column's texts (once).
    mlm_decoder (`str`, *optional*, defaults to `"untied"`):
        The MLM head's decoder: `untied`, a parameter of its own that starts as a copy of the input embeddings, as the
        original's `lm_head` (`simcse/models.py` lines 283-284, `train.py` lines 371-373; it costs vocabulary x hidden
        parameters and their optimizer state); `tied`, the input embedding matrix itself (BERT's pretraining and
        DeCLUTR), so that the MLM term also trains the word embeddings through the output side.
    """

    temperature: float = field(default=0.05, metadata={"help": "InfoNCE softmax temperature."})
    hard_negative_weight: float = field(
        default=0.0, metadata={"help": "Added to each row's own hard-negative logit (log of SimCSE's alpha)."}
    )
    mlm_columns: MLMColumns = field(
        default="all",
        metadata={"help": "The MLM term's texts: all (every text, as the original) or the first column's only."},
    )
    mlm_decoder: MLMDecoder = field(
        default="untied",
        metadata={"help": "The MLM decoder: a copy of the input embeddings (untied, as the original) or them (tied)."},
    )

    def check_fields(self) -> None:
        check_temperature(self.temperature)


class SimCSELoss(CachedLossWithParameters, ContrastiveLoss):
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
        temperature, hard_negative_weight: see `SimCSESettings`.
        mlp_only_train (`bool`, *optional*, defaults to `False`): apply SimCSE's MLP (Linear + Tanh, owned by this
            loss) over the embeddings during training only; the saved model does not contain it. Use with the
            `cls_before_pooler` pooler to reproduce SimCSE's `--pooler_type cls --mlp_only_train`.
        do_mlm, mlm_weight, mlm_probability: SimCSE's masked-language-model auxiliary term (forwards of the masked
            texts of their own), see `MLMSettings`.
        mlm_columns, mlm_decoder: which texts the MLM term masks and its decoder, see `SimCSESettings`.
        gather_across_devices, gather_gradients: negatives from every process under DDP, see `GatherSettings`.
        mini_batch_size: gradient caching (not with `do_mlm`), see `GradCacheSettings`.

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

    settings_class = SimCSESettings
    citation = SIMCSE_CITATION

    def __init__(
        self,
        model: SentenceTransformer,
        temperature: float = SimCSESettings.temperature,
        hard_negative_weight: float = SimCSESettings.hard_negative_weight,
        mlp_only_train: bool = False,
        do_mlm: bool = SimCSESettings.do_mlm,
        mlm_weight: float = SimCSESettings.mlm_weight,
        mlm_probability: float = SimCSESettings.mlm_probability,
        mlm_columns: MLMColumns = SimCSESettings.mlm_columns,
        mlm_decoder: MLMDecoder = SimCSESettings.mlm_decoder,
        gather_across_devices: bool = SimCSESettings.gather_across_devices,
        gather_gradients: GatherGradients = SimCSESettings.gather_gradients,
        mini_batch_size: int | None = SimCSESettings.mini_batch_size,
    ) -> None:
        super().__init__(model, temperature=temperature, hard_negative_weight=hard_negative_weight, do_mlm=do_mlm,
                         mlm_weight=mlm_weight, mlm_probability=mlm_probability, mlm_columns=mlm_columns,
                         mlm_decoder=mlm_decoder, gather_across_devices=gather_across_devices,
                         gather_gradients=gather_gradients, mini_batch_size=mini_batch_size)
        self.mlp_only_train = mlp_only_train
        self.mlp = None
        if mlp_only_train:
            config = getattr(model.transformers_model, "config", None)
            self.mlp = simcse_mlp(model.get_embedding_dimension(), getattr(config, "initializer_range", 0.02))
        self.mlm = MaskedLM(model, mlm_probability, tied=mlm_decoder == "tied") if do_mlm else None

    def forward(self, sentence_features: list[dict[str, Any]], labels: Tensor | None = None) -> Tensor | dict:
        if len(sentence_features) == 1:
            columns = [sentence_features[0], sentence_features[0]]
        else:
            columns = list(sentence_features)
        if self.mini_batch_size is not None:
            return self.forward_with_cache(columns, labels)
        with_mlm = self.do_mlm and unwrap(self.model).training  # masking is a training-time corruption
        texts = [dict(column) for column in columns] if with_mlm else None  # before a forward adds its outputs
        # Unsupervised: both copies in one 2B-row forward (one padding width, two dropout masks). Supervised: the
        # anchors alone and the like-width candidates merged, so short hypotheses are not padded to the premises.
        embeddings = embed_columns(self.model, columns, separate_first=len(sentence_features) > 1)
        loss = self.compute_loss_from_embeddings(embeddings)
        if not with_mlm:
            return loss
        return {"contrastive": loss, "mlm": self.mlm_weight * self.mlm_loss(texts)}

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> Tensor:
        """InfoNCE over `[anchors, positives, *negatives]`, after the training-only MLP when there is one."""
        if self.mlp is not None:
            embeddings = [self.mlp(e) for e in embeddings]
        anchors, positives, *negatives = embeddings
        processes = CrossProcess.of(self)
        positives, offset = processes.gather(positives)  # the candidates of every process
        negatives = [processes.gather(negative)[0] for negative in negatives]
        anchors, offset = processes.queries(anchors, offset)  # this process's (local gradients: every process's)
        total = info_nce(anchors, positives, negatives, temperature=self.temperature,
                         hard_negative_weight=self.hard_negative_weight, offset=offset, reduction="sum")
        return processes.mean(total, positives.size(0))

    def mlm_loss(self, columns: list[dict[str, Any]]) -> Tensor:
        """Masked-LM cross-entropy of forwards of their own over the masked texts (as SimCSE's `do_mlm`): every
        column of the contrastive term (`columns`; unsupervised, the text twice) or only the first (`mlm_columns`)."""
        return self.mlm.columns_loss(self.model, columns if self.mlm_columns == "all" else columns[:1])

    def get_config_dict(self) -> dict[str, Any]:
        return {**super().get_config_dict(), "mlp_only_train": self.mlp_only_train}
