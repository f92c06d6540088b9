"""SimCSE (Gao et al., 2021) as a sentence-transformers loss."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.losses.merged_forward import embed_columns

from ..data.masking import IGNORE_INDEX, mask_tokens
from ..modeling.heads import MLMHead, simcse_mlp
from .functional import info_nce

SIMCSE_CITATION = """@inproceedings{gao2021simcse,
    title = {{SimCSE}: Simple Contrastive Learning of Sentence Embeddings},
    author = {Gao, Tianyu and Yao, Xingcheng and Chen, Danqi},
    booktitle = {Proceedings of the 2021 Conference on Empirical Methods in Natural Language Processing},
    year = {2021},
    url = {https://arxiv.org/abs/2104.08821}
}"""


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP / compile wrapper (or the model itself)."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


class SimCSELoss(nn.Module):
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
        The loss, or `{"contrastive": ..., "mlm": mlm_weight * ...}` with `do_mlm` (each component is logged).

    Relations:
        - Without MLP, MLM and hard-negative weight this equals sentence-transformers'
          `MultipleNegativesRankingLoss(model, scale=1 / temperature)` on `(text, text)` pairs (unsupervised)
          or on the same columns (supervised), in one merged forward pass instead of one per column.

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
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"`temperature` must be > 0, got {temperature}.")
        if mlm_weight < 0:
            raise ValueError(f"`mlm_weight` must be >= 0, got {mlm_weight}.")
        self.model = model
        self.temperature = temperature
        self.hard_negative_weight = hard_negative_weight
        self.mlp_only_train = mlp_only_train
        self.do_mlm = do_mlm
        self.mlm_weight = mlm_weight
        self.mlm_probability = mlm_probability
        dim = model.get_embedding_dimension()
        config = model.transformers_model.config if model.transformers_model is not None else None
        initializer_range = getattr(config, "initializer_range", 0.02)
        self.mlp = simcse_mlp(dim, initializer_range) if mlp_only_train else None
        self.mlm_head = self._build_mlm_head(model, initializer_range) if do_mlm else None

    @staticmethod
    def _build_mlm_head(model: SentenceTransformer, initializer_range: float) -> MLMHead:
        encoder, tokenizer = model.transformers_model, model.tokenizer
        if encoder is None or getattr(tokenizer, "mask_token_id", None) is None:
            raise ValueError("`do_mlm=True` needs a transformers encoder whose tokenizer has a mask token.")
        embeddings = encoder.get_input_embeddings()
        return MLMHead(
            embeddings.embedding_dim,
            embeddings.num_embeddings,
            layer_norm_eps=getattr(encoder.config, "layer_norm_eps", 1e-12),
            initializer_range=initializer_range,
        )

    def forward(self, sentence_features: list[dict[str, Any]], labels: Tensor | None = None) -> Tensor | dict:
        if len(sentence_features) == 1:
            columns = [sentence_features[0], sentence_features[0]]
        else:
            columns = list(sentence_features)
        embeddings = embed_columns(self.model, columns, separate_first=False)
        loss = self.compute_loss_from_embeddings(embeddings)
        if not self.do_mlm:
            return loss
        return {"contrastive": loss, "mlm": self.mlm_weight * self.mlm_loss(sentence_features[0])}

    def compute_loss_from_embeddings(self, embeddings: list[Tensor]) -> Tensor:
        """InfoNCE over `[anchors, positives, *negatives]`, after the training-only MLP when there is one."""
        if self.mlp is not None:
            embeddings = [self.mlp(e) for e in embeddings]
        anchors, positives, *negatives = embeddings
        return info_nce(
            anchors,
            positives,
            negatives,
            temperature=self.temperature,
            hard_negative_weight=self.hard_negative_weight,
        )

    def mlm_loss(self, features: dict[str, Any]) -> Tensor:
        """Masked-LM cross-entropy of a second forward pass over the masked `features` (as SimCSE's `do_mlm`)."""
        model = unwrap(self.model)
        tokenizer, encoder = model.tokenizer, model.transformers_model
        input_ids = features["input_ids"]
        special = torch.tensor(tokenizer.all_special_ids, device=input_ids.device)
        maskable = features["attention_mask"].bool() & ~torch.isin(input_ids, special)
        decoder_weight = encoder.get_input_embeddings().weight
        masked_ids, mlm_labels = mask_tokens(
            input_ids,
            maskable,
            mask_token_id=tokenizer.mask_token_id,
            vocab_size=decoder_weight.size(0),
            mlm_probability=self.mlm_probability,
        )
        outputs = self.model({**features, "input_ids": masked_ids})
        hidden = outputs["all_layer_embeddings"][-1] if "all_layer_embeddings" in outputs else outputs["token_embeddings"]
        logits = self.mlm_head(hidden, decoder_weight)
        if not (mlm_labels != IGNORE_INDEX).any():
            return logits.sum() * 0.0
        return F.cross_entropy(logits.flatten(0, 1), mlm_labels.flatten(), ignore_index=IGNORE_INDEX)

    def get_config_dict(self) -> dict[str, Any]:
        config = {"temperature": self.temperature, "hard_negative_weight": self.hard_negative_weight,
                  "mlp_only_train": self.mlp_only_train, "do_mlm": self.do_mlm}
        if self.do_mlm:
            config |= {"mlm_weight": self.mlm_weight, "mlm_probability": self.mlm_probability}
        return config

    @property
    def citation(self) -> str:
        return SIMCSE_CITATION
