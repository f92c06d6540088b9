"""`DeCLUTRConfig`: training arguments plus DeCLUTR's span sampling and objective, with the paper's defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..data.spans import SpanSettings
from ..losses.declutr import DeCLUTRSettings
from .base_config import ContrastiveConfig


@dataclass
class DeCLUTRConfig(DeCLUTRSettings, SpanSettings, ContrastiveConfig):
    r"""
    Configuration of the [`DeCLUTRTrainer`] (Giorgi et al., 2021, https://arxiv.org/abs/2006.03659), with the
    defaults of the original `training_config/declutr.jsonnet`: the Trainer's arguments ([`ContrastiveConfig`]),
    DeCLUTR's objective (`DeCLUTRSettings`: `temperature`, `do_mlm`, `mlm_weight`, `mlm_probability`,
    `gather_across_devices`, documented there), the span sampling (`SpanSettings`: `num_anchors`, `num_positives`,
    `min_span_len`, `max_span_len`, `sampling_strategy`) and:

    Parameters:
        strict_length (`bool`, *optional*, defaults to `False`): raise on a document that is too short instead of
            dropping it (the number dropped is logged either way).

        > Model defaults

        pooler: `None` gives a plain encoder DeCLUTR's mean pooling (`avg`) and keeps a SentenceTransformer's own.

    > [!NOTE]
    > `per_device_train_batch_size` counts documents (each gives `num_anchors` anchors). Defaults that differ from
    > [`~transformers.TrainingArguments`]: `learning_rate=5e-5`, `weight_decay=0.1`, `per_device_train_batch_size=4`,
    > `num_train_epochs=1`, `warmup_steps=0.1` (the original's slanted-triangular schedule: 10% linear warm-up, then
    > linear decay), `dataloader_drop_last=True`.
    """

    strict_length: bool = field(default=False, metadata={"help": "Raise on too-short documents instead of dropping."})

    learning_rate: float = field(default=5e-5, metadata={"help": "DeCLUTR's value."})
    weight_decay: float = field(default=0.1, metadata={"help": "DeCLUTR's value (not on biases and LayerNorm)."})
    per_device_train_batch_size: int = field(default=4, metadata={"help": "Documents per batch and device."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "DeCLUTR trains one epoch."})
    warmup_steps: float = field(default=0.1, metadata={"help": "Warm-up steps, or a share of all steps if < 1."})
    dataloader_drop_last: bool = field(default=True, metadata={"help": "As the original."})

    def __post_init__(self):
        if self.dataloader_persistent_workers and self.dataloader_num_workers > 0:
            raise ValueError(
                "`dataloader_persistent_workers=True` keeps each worker's copy of the span collator, so spans would "
                "not be re-sampled after the first epoch; leave it False."
            )
        super().__post_init__()  # the span and objective settings' checks, then the Trainer's arguments
        if self.per_device_train_batch_size * self.num_anchors < 2:
            raise ValueError(
                f"A batch needs at least 2 anchors for negatives; got per_device_train_batch_size="
                f"{self.per_device_train_batch_size} x num_anchors={self.num_anchors}."
            )
