"""The masked-language-model auxiliary term shared by SimCSE (`do_mlm`) and DeCLUTR."""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.losses.merged_forward import merge_feature_batches

from ..distributed import unwrap
from ..data.masking import IGNORE_INDEX, mask_tokens
from ..modeling.heads import MLMHead, pretrained_mlm_head_state

logger = logging.getLogger(__name__)


class MaskedLM(nn.Module):
    """Masks a batch of features (BERT's 80/10/10 rule) and scores the model's token states on the masked positions
    with an MLM head (owned here). As SimCSE and DeCLUTR do, the head starts from the checkpoint's pretrained MLM head
    when it has one (BERT/RoBERTa `*ForMaskedLM` saves such as `bert-base-uncased`); otherwise (e.g. a
    SentenceTransformer export) it is freshly initialised (`pretrained_head` tells which).

    The decoder (hidden -> vocabulary) is tied to the encoder's input embeddings (`tied=True`, BERT's pretraining and
    DeCLUTR's `AutoModelForMaskedLM`, `declutr/modules/token_embedders/pretrained_transformer_embedder_mlm.py` line 82),
    so the MLM term also trains the word embeddings through it; or,
    `tied=False`, it is a parameter of its own, a copy of the input embeddings made here, as the original SimCSE's
    `lm_head` (a `BertLMPredictionHead`/`RobertaLMHead` of `BertForCL`/`RobertaForCL`, which define no output
    embeddings to tie, `simcse/models.py` lines 283-284 and 342-343, loaded from the pretrained head with its decoder,
    `train.py` lines 371-373, i.e. a copy of the word embeddings at the start).

    Use: `masked, labels = mlm.mask(model, features)`, run `outputs = model(masked)`, then
    `mlm.loss(model, [outputs], [labels])` (DeCLUTR, which also takes the anchor embeddings from that forward), or
    `mlm.columns_loss(model, columns)` for the MLM term over several columns' texts in forwards of its own (SimCSE).
    """

    def __init__(self, model: SentenceTransformer, mlm_probability: float = 0.15, *, tied: bool = True):
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
        self.decoder = None if tied else nn.Parameter(embeddings.weight.detach().clone())
        logger.info(f"MLM head: {'pretrained, from the checkpoint' if self.pretrained_head else 'freshly initialised'},"
                    f" decoder {'tied to the input embeddings' if tied else 'a copy of the input embeddings'}.")

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

    def loss(self, model: nn.Module, outputs: list[dict[str, Any]], labels: list[Tensor]) -> Tensor:
        """Cross-entropy of the head over the last layer's token states at the masked positions of one or more
        forwards (`outputs[k]` of the features masked with `labels[k]`): the mean over every masked token."""
        hidden = [out["all_layer_embeddings"][-1] if "all_layer_embeddings" in out else out["token_embeddings"]
                  for out in outputs]
        chosen = [label != IGNORE_INDEX for label in labels]
        if not any(c.any() for c in chosen):
            return (sum(h.sum() for h in hidden) + sum(p.sum() for p in self.parameters())) * 0.0
        decoder = self.decoder
        if decoder is None:  # tied
            decoder = unwrap(model).transformers_model.get_input_embeddings().weight
        # Vocabulary logits only where a token was masked (a full (B, L, V) tensor would dwarf the encoder's).
        logits = self.head(torch.cat([h[c] for h, c in zip(hidden, chosen)]), decoder)
        return F.cross_entropy(logits, torch.cat([label[c] for label, c in zip(labels, chosen)]))

    def columns_loss(self, model: nn.Module, columns: list[dict[str, Any]]) -> Tensor:
        """The MLM term over the texts of every column in `columns`, each masked independently (a column given twice,
        as SimCSE's unsupervised views, gets two masks), in one forward of the columns padded together as the
        original SimCSE collator pads its whole batch (`train.py` lines 477-485), or one per column where they do
        not merge; the mean over every masked token."""
        merged = merge_feature_batches(columns) if len(columns) > 1 else columns[0]
        masked = [self.mask(model, features) for features in ([merged] if merged is not None else columns)]
        return self.loss(model, [model(features) for features, _ in masked], [labels for _, labels in masked])
