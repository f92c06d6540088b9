"""`DeCLUTRConfig`: training arguments plus DeCLUTR's span sampling and objective, with the paper's defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..data.spans import check_span_settings
from ..losses.checks import check_objective
from .base_config import ContrastiveConfig


@dataclass
class DeCLUTRConfig(ContrastiveConfig):
    r"""
    Configuration of the [`DeCLUTRTrainer`] (Giorgi et al., 2021, https://arxiv.org/abs/2006.03659), with the
    defaults of the original `training_config/declutr.jsonnet`.

    Parameters:
        > Parameters that control span sampling

        num_anchors (`int`, *optional*, defaults to `2`): anchor spans sampled per document.
        num_positives (`int`, *optional*, defaults to `2`): positive spans per anchor (averaged into one embedding).
        min_span_len (`int`, *optional*, defaults to `32`): shortest span, in tokens of the model's tokenizer.
        max_span_len (`int`, *optional*, defaults to `512`): longest span; documents need
            `num_anchors * max_span_len * 2` tokens. Spans longer than `max_seq_length` (or the model's own) are
            truncated when tokenized (the original caps spans at the model's 512 positions the same way).
        sampling_strategy (`str`, *optional*): `None` (positives overlap, are adjacent to, or inside their anchor),
            `"subsuming"` or `"adjacent"`.
        strict_length (`bool`, *optional*, defaults to `False`): raise on a document that is too short instead of
            dropping it (the number dropped is logged either way).

        > Parameters that control the objective

        temperature (`float`, *optional*, defaults to `0.05`): NT-Xent temperature.
        do_mlm (`bool`, *optional*, defaults to `True`): MLM on the masked anchors, in the same forward pass.
        mlm_weight (`float`, *optional*, defaults to `1.0`): weight of the MLM term.
        mlm_probability (`float`, *optional*, defaults to `0.15`): share of anchor tokens masked.
        gather_across_devices (`bool`, *optional*, defaults to `True`): under DDP (torchrun / accelerate), every span
            of every process is a candidate (gathered with their gradients), as one process on the whole batch.

        > Model defaults

        pooler: `None` gives a plain encoder DeCLUTR's mean pooling (`avg`) and keeps a SentenceTransformer's own.

    > [!NOTE]
    > `per_device_train_batch_size` counts documents (each gives `num_anchors` anchors). Defaults that differ from
    > [`~transformers.TrainingArguments`]: `learning_rate=5e-5`, `weight_decay=0.1`, `per_device_train_batch_size=4`,
    > `num_train_epochs=1`, `warmup_steps=0.1` (the original's slanted-triangular schedule: 10% linear warm-up, then
    > linear decay), `dataloader_drop_last=True`.
    """

    num_anchors: int = field(default=2, metadata={"help": "Anchor spans per document."})
    num_positives: int = field(default=2, metadata={"help": "Positive spans per anchor (averaged)."})
    min_span_len: int = field(default=32, metadata={"help": "Shortest span in tokens."})
    max_span_len: int = field(default=512, metadata={"help": "Longest span in tokens."})
    sampling_strategy: str | None = field(default=None, metadata={"help": "None | subsuming | adjacent"})
    strict_length: bool = field(default=False, metadata={"help": "Raise on too-short documents instead of dropping."})
    temperature: float = field(default=0.05, metadata={"help": "NT-Xent temperature."})
    do_mlm: bool = field(default=True, metadata={"help": "MLM on the masked anchors."})
    mlm_weight: float = field(default=1.0, metadata={"help": "Weight of the MLM term."})
    mlm_probability: float = field(default=0.15, metadata={"help": "Share of anchor tokens masked."})
    gather_across_devices: bool = field(
        default=True, metadata={"help": "Under DDP, spans from every process as negatives (gathered with gradients)."}
    )

    learning_rate: float = field(default=5e-5, metadata={"help": "DeCLUTR's value."})
    weight_decay: float = field(default=0.1, metadata={"help": "DeCLUTR's value (not on biases and LayerNorm)."})
    per_device_train_batch_size: int = field(default=4, metadata={"help": "Documents per batch and device."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "DeCLUTR trains one epoch."})
    warmup_steps: float = field(default=0.1, metadata={"help": "Warm-up steps, or a share of all steps if < 1."})
    dataloader_drop_last: bool = field(default=True, metadata={"help": "As the original."})

    def __post_init__(self):
        check_span_settings(self.num_anchors, self.num_positives, self.min_span_len, self.max_span_len,
                            self.sampling_strategy)
        check_objective(self.temperature, self.mlm_weight, self.mlm_probability)
        if self.per_device_train_batch_size * self.num_anchors < 2:
            raise ValueError(
                f"A batch needs at least 2 anchors for negatives; got per_device_train_batch_size="
                f"{self.per_device_train_batch_size} x num_anchors={self.num_anchors}."
            )
        if self.dataloader_persistent_workers and self.dataloader_num_workers > 0:
            raise ValueError(
                "`dataloader_persistent_workers=True` keeps each worker's copy of the span collator, so spans would "
                "not be re-sampled after the first epoch; leave it False."
            )
        super().__post_init__()
