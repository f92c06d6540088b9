"""`DeCLUTRConfig`: training arguments plus DeCLUTR's span sampling and objective, with the paper's defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from transformers.training_args import OptimizerNames

from ..data.spans import SpanSettings
from ..losses.declutr import DeCLUTRSettings
from ..optimization import check_slanted_triangular_kwargs
from .base_config import ContrastiveConfig

LRSchedule = Literal["slanted_triangular"]
# The original's optimizer, schedule, precision and gradient scale (training_config/declutr.jsonnet lines 55-84) on
# top of the defaults, which already hold its lr, weight decay, grad-norm, batch and epochs: DeCLUTRConfig(**this).
ORIGINAL_DECLUTR = {"lr_schedule": "slanted_triangular", "adam_correct_bias": False, "adam_epsilon": 1e-6,
                    "fp16": True, "gather_gradients": "local"}


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

        > Parameters that reproduce the original's optimization (all of them: `DeCLUTRConfig(**ORIGINAL_DECLUTR)`)

        lr_schedule (`str`, *optional*):
            `None` (default): the Trainer's `lr_scheduler_type` (linear) with `warmup_steps` (10%): linear warm-up from
            0, then linear decay to 0. `slanted_triangular`: the original's allennlp `SlantedTriangular`
            (`hf_contrastive.optimization.slanted_triangular_schedule`; `lr_scheduler_kwargs` may set `cut_frac`,
            default 0.1, and `ratio`, default 32): from `learning_rate / 32` up to `learning_rate` over the first 10%
            of the updates, then down to `learning_rate / 32`; `lr_scheduler_type` and `warmup_steps` are then not
            used. The default is the same triangle without the `1/32` floor, with the Trainer's other schedules
            available. Note: the original config's lazy reader gives allennlp no epoch length, and allennlp's
            schedule then stays at `learning_rate / 32` for the whole single epoch (see `slanted_triangular`); to
            reproduce that run exactly, use `lr_scheduler_type="constant"` with `learning_rate=5e-5 / 32`.
        adam_correct_bias (`bool`, *optional*, defaults to `True`):
            `False`: the original's optimizer, transformers 3.0's AdamW without bias correction (`correct_bias: false`,
            `hf_contrastive.optimization.LegacyAdamW`), whose first updates are several times larger than
            bias-corrected ones; with `adam_epsilon=1e-6` as the original. Needs `optim` `adamw_torch` (the default)
            or `adamw_torch_fused`. `True`: the Trainer's `optim`.
        Mixed precision (the original's `use_amp`) is `fp16=True`; the original's 1/world_size gradient scale under
        DDP (`scale_fix: false`) is `gather_gradients="local"`.

        > Model defaults

        pooler: `None` gives a plain encoder DeCLUTR's mean pooling (`avg`) and keeps a SentenceTransformer's own.

    > [!NOTE]
    > `per_device_train_batch_size` counts documents (each gives `num_anchors` anchors). Defaults that differ from
    > [`~transformers.TrainingArguments`]: `learning_rate=5e-5`, `weight_decay=0.1`, `per_device_train_batch_size=4`,
    > `num_train_epochs=1`, `warmup_steps=0.1` (10% linear warm-up, then linear decay: the original's slanted-triangular
    > shape without its `1/32` floor, see `lr_schedule`), `dataloader_drop_last=True`.
    """

    strict_length: bool = field(default=False, metadata={"help": "Raise on too-short documents instead of dropping."})
    lr_schedule: LRSchedule | None = field(
        default=None,
        metadata={"help": "None: lr_scheduler_type with warmup_steps; slanted_triangular: the original's allennlp "
                          "schedule (lr_scheduler_kwargs cut_frac, ratio)."},
    )
    adam_correct_bias: bool = field(
        default=True, metadata={"help": "False: the original's AdamW without bias correction (transformers 3.0's)."}
    )

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
        if self.lr_schedule == "slanted_triangular":
            check_slanted_triangular_kwargs(self.lr_scheduler_kwargs or {})
        adamw = (OptimizerNames.ADAMW_TORCH, OptimizerNames.ADAMW_TORCH_FUSED)
        if not self.adam_correct_bias and self.optim not in adamw:
            raise ValueError(f"`adam_correct_bias=False` replaces AdamW with the original's; `optim` must be "
                             f"{' or '.join(repr(o.value) for o in adamw)}, got {OptimizerNames(self.optim).value!r}.")
        if self.per_device_train_batch_size * self.num_anchors < 2:
            raise ValueError(
                f"A batch needs at least 2 anchors for negatives; got per_device_train_batch_size="
                f"{self.per_device_train_batch_size} x num_anchors={self.num_anchors}."
            )
