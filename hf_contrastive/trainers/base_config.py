"""`ContrastiveConfig`: the training arguments every hf_contrastive trainer shares."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field

from sentence_transformers import SentenceTransformerTrainingArguments

from .. import precision as precision_rule
from ..modeling.pooling import POOLER_ALIASES, POOLERS, resolve_pooler
from ..precision import PrecisionChoice


@dataclass
class ContrastiveConfig(SentenceTransformerTrainingArguments):
    r"""
    Base configuration of the hf_contrastive trainers: `SentenceTransformerTrainingArguments` (so every
    `transformers.TrainingArguments` field works: DDP, mixed precision, checkpoints, `report_to`, ...) plus the
    model-building fields the trainers share. Each method's config adds its objective's hyperparameters.

    Parameters:
        > Parameters that control the model

        pooler (`str`, *optional*):
            `cls` (with SimCSE's MLP), `cls_before_pooler`, `avg` (alias `mean`), `avg_first_last` or `avg_top2`.
            Applies when the trainer's `model` is a name or path; `None` gives a plain encoder the method's default
            pooler and keeps a SentenceTransformer's own modules.
        max_seq_length (`int`, *optional*):
            Truncation length in tokens of the training (and evaluation-loss) batches; the model's own
            `max_seq_length`, used at inference and saved with it, is not changed. `None` uses the model's.

        > Parameters that control precision

        precision (`str`, *optional*, defaults to `"auto"`):
            `auto`, `bf16`, `fp16` or `fp32`. `auto` trains in bf16 (autocast mixed precision) where the device
            computes bf16 natively — a CUDA GPU with bf16 (compute capability 8.0+), a CPU with AVX512-BF16 or
            AMX-BF16, as torch reports it — and in fp32 elsewhere (torch emulates bf16 on other CPUs, far slower than
            fp32). An explicit value, the Trainer's own `bf16=True` / `fp16=True`, or accelerate's
            `ACCELERATE_MIXED_PRECISION` wins (two that disagree are a `ValueError`). The choice sets `bf16` / `fp16`
            (and `use_cpu` for bf16 on a machine without an accelerator, as transformers asks); the trainer logs it
            and the model card's "precision" row states it, e.g. `bf16 (auto: CPU with AVX512-BF16)`.

        > Parameters that control reliability

        stop_on_nonfinite_loss (`bool`, *optional*, defaults to `True`):
            Raise `hf_contrastive.errors.NonFiniteLossError` (naming the step, the loss and its components) when a
            training step's loss is NaN or infinite, before that step updates the weights, instead of training
            through it. The check reads the loss before fp16 loss scaling (a GradScaler's overflowing *gradients*
            are its normal skipped steps and are not affected; a non-finite *loss* is not one of them). Under DDP
            the processes compare their losses (one small all-gather per micro-batch) so that all of them stop.
            It costs one device synchronisation per micro-batch on a GPU, where transformers already syncs on the
            loss for `logging_nan_inf_filter`; `False` skips the check.

        > Parameters that control LoRA (for YAML/CLI; in Python, `peft_config=LoraConfig(...)` on the trainer)

        use_peft (`bool`, *optional*, defaults to `False`): train LoRA adapters instead of all encoder weights.
        lora_r (`int`, *optional*, defaults to `8`): LoRA rank.
        lora_alpha (`int`, *optional*, defaults to `16`): LoRA scaling numerator.
        lora_dropout (`float`, *optional*, defaults to `0.05`): dropout on the LoRA branch.
        lora_target_modules (`list[str]`, *optional*): module names to adapt; `None` uses peft's default for the
            architecture (`query`, `value` for BERT).
    """

    pooler: str | None = field(
        default=None,
        metadata={"help": f"{' | '.join(POOLERS + tuple(POOLER_ALIASES))}; None keeps the model's own."},
    )
    max_seq_length: int | None = field(
        default=None, metadata={"help": "Truncation length of training batches; the model's own is kept."}
    )

    precision: PrecisionChoice = field(
        default="auto",
        metadata={"help": "auto: bf16 on a CUDA GPU with bf16 or a CPU with AVX512-BF16 or AMX-BF16, fp32 elsewhere; "
                          "bf16=/fp16= also choose it."},
    )

    stop_on_nonfinite_loss: bool = field(
        default=True,
        metadata={"help": "Stop with an error naming the step when a training loss is NaN or infinite."},
    )

    use_peft: bool = field(default=False, metadata={"help": "Train LoRA adapters (peft) instead of all weights."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: list[str] | None = field(
        default=None, metadata={"help": "Modules to adapt; None uses peft's default for the architecture."}
    )

    def check_in_batch_negatives(self, why: str) -> None:
        """`ValueError` when a batch holds a single row (no in-batch negative), unless the batches of several
        processes are gathered (`gather_across_devices`)."""
        gathered = getattr(self, "gather_across_devices", False) and self.world_size > 1
        if self.per_device_train_batch_size < 2 and not gathered:
            raise ValueError(f"`per_device_train_batch_size` must be >= 2, got {self.per_device_train_batch_size}: "
                             f"{why}")

    def __getstate__(self) -> dict:
        """What pickling keeps (transformers and sentence-transformers `torch.save` the arguments as
        `training_args.bin` beside every checkpoint and saved model): every field but the tokens (`hub_token`, any
        `*_token`), which become `None`, so that no Hub token is written to disk. Copies keep them."""
        return {key: None if key.endswith("_token") else value for key, value in self.__dict__.items()}

    def __copy__(self):
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    def __deepcopy__(self, memo: dict):
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def __post_init__(self):
        if self.lora_r < 1:
            raise ValueError(f"`lora_r` must be >= 1, got {self.lora_r}.")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"`lora_dropout` must be in [0, 1), got {self.lora_dropout}.")
        if self.pooler is not None:
            self.pooler = resolve_pooler(self.pooler)
        if self.max_seq_length is not None and self.max_seq_length < 1:
            raise ValueError(f"`max_seq_length` must be >= 1, got {self.max_seq_length}.")
        self.resolve_precision()
        super().__post_init__()

    def resolve_precision(self) -> None:
        """Apply `precision` (see `hf_contrastive.precision.choose_precision`) to `bf16` / `fp16` before
        TrainingArguments checks them and sets up the device; keep the choice and its hardware in
        `chosen_precision` and `hardware` (the trainer logs them, the model card states them)."""
        self.hardware = precision_rule.detect_hardware(self.use_cpu)
        self.chosen_precision = precision_rule.choose_precision(
            self.precision, bf16=self.bf16, fp16=self.fp16, hardware=self.hardware,
            accelerate_mixed_precision=os.environ.get("ACCELERATE_MIXED_PRECISION", "no"))
        self.bf16, self.fp16 = self.chosen_precision.value == "bf16", self.chosen_precision.value == "fp16"
        if self.bf16 and self.hardware.device == "cpu":
            self.use_cpu = True  # transformers refuses bf16 without an accelerator unless `use_cpu` says it is meant
