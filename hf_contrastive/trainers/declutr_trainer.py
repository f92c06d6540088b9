"""`DeCLUTRTrainer`: DeCLUTR on documents as a drop-in `transformers.Trainer`."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from sentence_transformers import SentenceTransformer
from transformers import TrainerCallback

from ..data.collators import DeCLUTRDataCollator
from ..data.spans import SpanSettings
from ..data.transforms import prepare_documents
from ..losses.declutr import DeCLUTRLoss
from ..optimization import LegacyAdamW, slanted_triangular_schedule
from ..settings import settings_values
from ..tuning import LEARNING_RATE, TEMPERATURE
from .base_trainer import ContrastiveTrainer
from .declutr_config import DeCLUTRConfig


class SpanEpochCallback(TrainerCallback):
    """Tells the span collator which epoch starts, so that spans are re-sampled every epoch (and again identically
    after `resume_from_checkpoint`)."""

    def __init__(self, collator: DeCLUTRDataCollator):
        self.collator = collator

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.collator.epoch = math.floor(state.epoch or 0)


class DeCLUTRTrainer(ContrastiveTrainer):
    """
    Trains a sentence-embedding model with DeCLUTR (Giorgi et al., 2021) on a dataset with a `text` column of
    documents.

    Each document is tokenized once with the model's tokenizer; documents shorter than
    `num_anchors * max_span_len * 2` tokens are dropped (and counted in the log) or, with `strict_length`, rejected.
    Every epoch, the collator samples `num_anchors` anchor spans and `num_positives` positive spans per anchor from
    each document; `DeCLUTRLoss` (NT-Xent + MLM on the masked anchors) trains on them. The config's `lr_schedule` and
    `adam_correct_bias` give the original's schedule and optimizer through the Trainer's own `create_scheduler` and
    optimizer choice (`DeCLUTRConfig(**ORIGINAL_DECLUTR)` for all of the original's optimization).

    Example:
        >>> args = DeCLUTRConfig(output_dir="out", min_span_len=32, max_span_len=128)
        >>> trainer = DeCLUTRTrainer(model="roberta-base", args=args, train_dataset=Dataset.from_dict({"text": docs}),
        ...                          eval_dataset=load_stsb("dev"))
        >>> trainer.train()
    """

    method = "declutr"
    method_name = "DeCLUTR"
    paper = {"title": "DeCLUTR: Deep Contrastive Learning for Unsupervised Textual Representations",
             "id": "2006.03659"}
    card_fields = tuple(f.name for f in dataclasses.fields(SpanSettings))
    loss_class = DeCLUTRLoss
    default_pooler = "avg"  # mean pooling, as the original
    prepare_with_user_loss = True  # spans are this trainer's input format, whatever the loss
    help = "DeCLUTR (Giorgi et al., 2021): long documents, spans sampled from the same document as positives"
    # the MLM term's weight against the contrastive one (the original adds them unweighted, 1.0; its ablation finds
    # the MLM term helps some tasks and not others)
    search_space = {"learning_rate": LEARNING_RATE, "temperature": TEMPERATURE,
                    "mlm_weight": {"type": "float", "low": 0.1, "high": 2.0, "log": True}}
    training_args_class = DeCLUTRConfig
    data_collator_class = DeCLUTRDataCollator
    data_fields = ("num_anchors", "max_span_len", "strict_length")  # which documents are kept

    def __init__(self, model: str | SentenceTransformer | None = None, args: DeCLUTRConfig | None = None,
                 **kwargs: Any) -> None:
        super().__init__(model=model, args=args, **kwargs)
        if isinstance(self.data_collator, DeCLUTRDataCollator):
            self.add_callback(SpanEpochCallback(self.data_collator))

    def prepare_dataset(self, dataset: Any, args: DeCLUTRConfig, name: str, model: SentenceTransformer) -> Any:
        if model is None and dataset is not None:
            raise ValueError("DeCLUTRTrainer tokenizes the documents with the model's tokenizer: pass `model` (or "
                             "`model_init`).")
        if model is not None:
            self._vocab = model.tokenizer.get_vocab()  # the tokens of the prepared documents
        return prepare_documents(dataset, model.tokenizer, num_anchors=args.num_anchors,
                                 max_span_len=args.max_span_len, strict=args.strict_length, name=name)

    def setup_fresh_model(self) -> None:
        """The base class's, and the span callback given the new collator; the documents stay tokenized with the
        first model's tokenizer, so a fresh model must have the same one."""
        if self.model.tokenizer.get_vocab() != self._vocab:
            raise ValueError("`model_init` returned a model with another tokenizer than the first one, whose tokens "
                             "the training documents are: every model of a DeCLUTR search must share one tokenizer.")
        super().setup_fresh_model()
        for callback in self.callback_handler.callbacks:
            if isinstance(callback, SpanEpochCallback):
                callback.collator = self.data_collator

    def get_data_collator(self, model, args: DeCLUTRConfig, processing_class=None) -> DeCLUTRDataCollator:
        collator = super().get_data_collator(model, args, processing_class)
        spans = SpanSettings(**settings_values(args, SpanSettings))
        return dataclasses.replace(collator, spans=spans, seed=args.seed)

    def create_scheduler(self, num_training_steps: int,
                         optimizer: torch.optim.Optimizer | None = None) -> torch.optim.lr_scheduler.LRScheduler:
        """The Trainer's schedule (`lr_scheduler_type`), or with `lr_schedule="slanted_triangular"` the original's
        (`slanted_triangular_schedule` over the `num_training_steps` updates, `lr_scheduler_kwargs` passed on)."""
        if self.args.lr_schedule != "slanted_triangular" or self.lr_scheduler is not None:
            return super().create_scheduler(num_training_steps, optimizer)
        self.lr_scheduler = slanted_triangular_schedule(optimizer or self.optimizer, num_training_steps,
                                                        **(self.args.lr_scheduler_kwargs or {}))
        self._created_lr_scheduler = True  # re-created, as the Trainer's own, when `train` is called again
        return self.lr_scheduler

    def get_optimizer_cls_and_kwargs(self, args: DeCLUTRConfig, model: Any = None) -> tuple[Any, dict[str, Any]]:
        """The Trainer's optimizer (its parameter groups: weight decay off for biases and LayerNorm, the loss's MLM
        head included), or with `adam_correct_bias=False` the original's `LegacyAdamW` without bias correction over
        the same groups, learning rate, betas and epsilon."""
        optimizer_cls, kwargs = super().get_optimizer_cls_and_kwargs(args, model)
        if args.adam_correct_bias:
            return optimizer_cls, kwargs
        kwargs = {key: value for key, value in kwargs.items() if key != "fused"}  # torch's AdamW's own switch
        return LegacyAdamW, {**kwargs, "correct_bias": False}
