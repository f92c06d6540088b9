"""`SFTContrastiveConfig`: training arguments plus the SFT+contrastive objective."""

from __future__ import annotations

from dataclasses import dataclass, field

from sentence_transformers.base.sampler import MultiDatasetBatchSamplers

from ..losses.sft_contrastive import CONTRASTIVE_TERMS, DEFAULT_TEMPERATURES
from ..losses.checks import check_gradient_cache, check_objective
from ..modeling.reference import REFERENCE_MODES
from .base_config import ContrastiveConfig

SFT_STRATEGIES = ("mixing", "alternating")
HEAD_PARAMETERS = r"^head\."  # the head's parameter names in SFTContrastiveLoss


@dataclass
class SFTContrastiveConfig(ContrastiveConfig):
    r"""
    Configuration of the [`SFTContrastiveTrainer`]: `L = L_supervised + λ·L_contrastive`, a classification head
    trained with cross-entropy while InfoNCE keeps each fine-tuned embedding close to the frozen pretrained embedding
    of the same text.

    Parameters:
        > Parameters that control the objective

        strategy (`str`, *optional*, defaults to `"mixing"`):
            `mixing`: labelled and unlabelled rows shuffled together, every batch trains `CE + λ·contrastive` (the
            contrastive term over all its texts). `alternating`: one batch from the labelled set (cross-entropy
            only), the next from the unlabelled set (λ·contrastive only), in turn (needs an `unlabelled_dataset`;
            an epoch ends when the smaller of the two runs out). Under DDP the batches are dealt to the processes in
            turn, so with an even number of processes each optimizer step averages labelled and unlabelled batches
            of different processes (in effect mixing); alternation holds per step with one process.
        contrastive (`str`, *optional*, defaults to `"info_nce"`):
            `info_nce`, or `supcon` (label-aware: SupCon over the fine-tuned and reference views; one text column,
            `mixing` only).
        contrastive_weight (`float`, *optional*, defaults to `1.0`):
            λ, the weight of the contrastive term; 0 is plain cross-entropy fine-tuning.
        temperature (`float`, *optional*):
            Softmax temperature; `None` is 0.05 for `info_nce` and 0.07 for `supcon`.
        reference (`str`, *optional*, defaults to `"auto"`):
            The frozen pretrained model: `adapters` (LoRA: the model with adapters disabled, no second copy),
            `copy` (full fine-tuning: a frozen copy, not checkpointed) or `auto` (`adapters` under LoRA).
        num_labels (`int`, *optional*):
            Number of classes; `None` reads it from the `label` column (a `ClassLabel`'s names, else the largest
            label + 1).
        classifier_dropout (`float`, *optional*, defaults to `0.1`):
            Dropout on the head's input in training.
        gather_across_devices (`bool`, *optional*, defaults to `True`):
            Under DDP, the InfoNCE term contrasts with the reference embeddings of every process's rows.
        mini_batch_size (`int`, *optional*):
            Gradient caching of the fine-tuned embeddings (same gradients, flat memory; the total loss is logged
            without its components). `None` embeds the whole batch at once.
        head_learning_rate (`float`, *optional*):
            Learning rate of the classification head (a fresh layer often wants more than the encoder, e.g. 1e-3);
            `None` uses `learning_rate`. Sets `learning_rate_mapping["^head\\."]`.

        > Model defaults

        pooler: `None` gives a plain encoder mean pooling (`avg`) and keeps a SentenceTransformer's own.

    > [!NOTE]
    > Defaults that differ from [`~transformers.TrainingArguments`]: `learning_rate=2e-5`,
    > `per_device_train_batch_size=32` (in-batch negatives of the contrastive term: at least 2 unless
    > `contrastive_weight=0` or the batches of several processes are gathered), `prediction_loss_only=False`
    > (evaluation reports `eval_accuracy` and `eval_f1` from the head), and with `alternating` the round-robin
    > `multi_dataset_batch_sampler`.
    """

    strategy: str = field(default="mixing", metadata={"help": "mixing | alternating"})
    contrastive: str = field(default="info_nce", metadata={"help": "info_nce | supcon"})
    contrastive_weight: float = field(default=1.0, metadata={"help": "λ: weight of the contrastive term."})
    temperature: float | None = field(
        default=None, metadata={"help": "Softmax temperature; None: 0.05 for info_nce, 0.07 for supcon."}
    )
    reference: str = field(default="auto", metadata={"help": "auto | adapters | copy: the frozen pretrained model."})
    num_labels: int | None = field(default=None, metadata={"help": "Number of classes; None reads the label column."})
    classifier_dropout: float = field(default=0.1, metadata={"help": "Dropout on the classification head's input."})
    head_learning_rate: float | None = field(
        default=None, metadata={"help": "Learning rate of the classification head; None uses learning_rate."}
    )

    gather_across_devices: bool = field(
        default=True, metadata={"help": "Under DDP, negatives from every process (gathered with gradients)."}
    )
    mini_batch_size: int | None = field(
        default=None, metadata={"help": "Gradient caching: embed the batch this many texts at a time."}
    )

    learning_rate: float = field(default=2e-5, metadata={"help": "The initial learning rate."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "In-batch negatives grow with it."})
    prediction_loss_only: bool = field(default=False, metadata={"help": "False: evaluation reports accuracy and F1."})

    def __post_init__(self):
        if self.strategy not in SFT_STRATEGIES:
            raise ValueError(f"`strategy` must be one of {SFT_STRATEGIES}, got {self.strategy!r}.")
        if self.contrastive not in CONTRASTIVE_TERMS:
            raise ValueError(f"`contrastive` must be one of {CONTRASTIVE_TERMS}, got {self.contrastive!r}.")
        if self.contrastive == "supcon" and self.strategy == "alternating":
            raise ValueError("`contrastive='supcon'` uses the labels, which `strategy='alternating'` keeps out of the "
                             "contrastive batches: use `strategy='mixing'`.")
        if self.reference not in REFERENCE_MODES:
            raise ValueError(f"`reference` must be one of {REFERENCE_MODES}, got {self.reference!r}.")
        if not self.contrastive_weight >= 0:
            raise ValueError(f"`contrastive_weight` (λ) must be >= 0, got {self.contrastive_weight}.")
        check_objective(self.resolved_temperature)
        if self.num_labels is not None and self.num_labels < 2:
            raise ValueError(f"`num_labels` must be >= 2, got {self.num_labels}.")
        if not 0 <= self.classifier_dropout < 1:
            raise ValueError(f"`classifier_dropout` must be in [0, 1), got {self.classifier_dropout}.")
        check_gradient_cache(self.mini_batch_size)
        if self.head_learning_rate is not None and not self.head_learning_rate > 0:
            raise ValueError(f"`head_learning_rate` must be > 0, got {self.head_learning_rate}.")
        if self.strategy == "alternating":
            self.multi_dataset_batch_sampler = MultiDatasetBatchSamplers.ROUND_ROBIN
        prediction_loss_only = self.prediction_loss_only
        super().__post_init__()
        if (self.per_device_train_batch_size < 2 and self.contrastive_weight > 0
                and not (self.gather_across_devices and self.world_size > 1)):
            raise ValueError(f"`per_device_train_batch_size` must be >= 2 with `contrastive_weight > 0`, got "
                             f"{self.per_device_train_batch_size}: the contrastive term needs other rows in the batch "
                             "(in-batch negatives); set `contrastive_weight=0` for plain cross-entropy.")
        self.prediction_loss_only = prediction_loss_only  # sentence-transformers forces True: its losses predict nothing
        if self.head_learning_rate is not None:  # after the parent turned a JSON string into a dict
            self.learning_rate_mapping = {**self.learning_rate_mapping, HEAD_PARAMETERS: self.head_learning_rate}

    @property
    def resolved_temperature(self) -> float:
        """`temperature`, with `None` resolved per contrastive term."""
        return DEFAULT_TEMPERATURES[self.contrastive] if self.temperature is None else self.temperature
