"""The masked-language-model auxiliary term shared by SimCSE (`do_mlm`) and DeCLUTR."""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from sentence_transformers import SentenceTransformer

from ..distributed import unwrap
from ..data.masking import IGNORE_INDEX, mask_tokens
from ..modeling.heads import MLMHead, pretrained_mlm_head_state

logger = logging.getLogger(__name__)


class MaskedLM(nn.Module):
    """Masks a batch of features (BERT's 80/10/10 rule) and scores the model's token states on the masked positions
    with an MLM head (owned here; decoder tied to the encoder's input embeddings). As SimCSE and DeCLUTR do, the head
    starts from the checkpoint's pretrained MLM head when it has one (BERT/RoBERTa `*ForMaskedLM` saves such as
    `bert-base-uncased`); otherwise (e.g. a SentenceTransformer export) it is freshly initialised
    (`pretrained_head` tells which).

    Use: `masked, labels = mlm.mask(model, features)`, run `model(masked)`, then `mlm.loss(model, outputs, labels)`.
    SimCSE runs that forward only for the MLM term; DeCLUTR also takes the anchor embeddings from it.
    """

    def __init__(self, model: SentenceTransformer, mlm_probability: float = 0.15):
        super().__init__()
        encoder, tokenizer = model.transformers_model, model.tokenizer
        if encoder is None or getattr(tokenizer, "mask_token_id", None) is None:
            raise ValueError("The MLM term needs a transformers encoder whose tokenizer has a mask token.")
        self.mlm_probability = mlm_probability
        embeddings = encoder.get_input_embeddings()
        self.head = MLMHead(
            embeddings.embedding_dim,
            embeddings.num_embeddings,
            layer_norm_eps=getattr(encoder.config, "layer_norm_eps", 1e-12),
            initializer_range=getattr(encoder.config, "initializer_range", 0.02),
            activation=getattr(encoder.config, "hidden_act", "gelu"),
        )
        pretrained = pretrained_mlm_head_state(getattr(encoder.config, "_name_or_path", None), embeddings.weight)
        self.pretrained_head = pretrained is not None and all(
            pretrained[name].shape == tensor.shape for name, tensor in self.head.state_dict().items()
        )
        if self.pretrained_head:
            self.head.load_state_dict(pretrained)
        logger.info(f"MLM head: {'pretrained, from the checkpoint' if self.pretrained_head else 'freshly initialised'}.")

    def mask(self, model: nn.Module, features: dict[str, Any]) -> tuple[dict[str, Any], Tensor]:
        """A copy of `features` with masked `input_ids`, and the labels (-100 where nothing was masked)."""
        tokenizer = unwrap(model).tokenizer
        input_ids = features["input_ids"]
        special = torch.tensor(tokenizer.all_special_ids, device=input_ids.device)
        maskable = features["attention_mask"].bool() & ~torch.isin(input_ids, special)
        masked_ids, labels = mask_tokens(
            input_ids,
            maskable,
            mask_token_id=tokenizer.mask_token_id,
            vocab_size=self.head.bias.numel(),
            mlm_probability=self.mlm_probability,
        )
        return {**features, "input_ids": masked_ids}, labels

    def loss(self, model: nn.Module, outputs: dict[str, Any], labels: Tensor) -> Tensor:
        """Cross-entropy of the head over the last layer's token states at the masked positions."""
        hidden = outputs["all_layer_embeddings"][-1] if "all_layer_embeddings" in outputs else outputs["token_embeddings"]
        decoder_weight = unwrap(model).transformers_model.get_input_embeddings().weight
        chosen = labels != IGNORE_INDEX
        if not chosen.any():
            return (hidden.sum() + sum(p.sum() for p in self.head.parameters())) * 0.0
        # Vocabulary logits only where a token was masked (a full (B, L, V) tensor would dwarf the encoder's).
        return F.cross_entropy(self.head(hidden[chosen], decoder_weight), labels[chosen])
