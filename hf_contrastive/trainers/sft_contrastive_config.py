"""`SFTContrastiveConfig`: training arguments plus the SFT+contrastive objective."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..data.batches import BatchCompositionSettings, labelled_rows
from ..losses.sft_contrastive import SFTContrastiveSettings
from .base_config import ContrastiveConfig

HEAD_PARAMETERS = r"^head\."  # the head's parameter names in SFTContrastiveLoss


@dataclass
class SFTContrastiveConfig(SFTContrastiveSettings, BatchCompositionSettings, ContrastiveConfig):
    r"""
    Configuration of the [`SFTContrastiveTrainer`]: `L = L_supervised + λ·L_contrastive`, a classification head
    trained with cross-entropy on few labelled rows while InfoNCE keeps each fine-tuned embedding close to the frozen
    pretrained embedding of the same text, on many unlabelled rows. The Trainer's arguments ([`ContrastiveConfig`]),
    the objective (`SFTContrastiveSettings`: `contrastive_weight`, `contrastive`, `negatives`, `temperature`,
    `base_temperature`, `reference`, `classifier_dropout`, `gather_across_devices`, `mini_batch_size`; the
    unlabelled rows' consistency term, off by default: `ConsistencySettings`' `consistency`, `consistency_weight`,
    `consistency_threshold`, `consistency_sharpening`, `consistency_warmup_steps`), the batches
    (`BatchCompositionSettings`: `strategy`, `labelled_per_batch`, `unlabelled_batches_per_labelled`), documented
    there, and:

    Parameters:
        > Parameters that control the objective

        num_labels (`int`, *optional*):
            Number of classes; `None` reads it from the `label` column (a `ClassLabel`'s names, else the largest
            label + 1).
        head_learning_rate (`float`, *optional*):
            Learning rate of the classification head (a fresh layer often wants more than the encoder, e.g. 1e-3);
            `None` uses `learning_rate`. Sets `learning_rate_mapping["^head\\."]`.

        > Model defaults

        pooler: `None` gives a plain encoder mean pooling (`avg`) and keeps a SentenceTransformer's own.

    > [!NOTE]
    > Defaults that differ from [`~transformers.TrainingArguments`]: `learning_rate=2e-5`,
    > `per_device_train_batch_size=32` (in-batch negatives of the contrastive term: at least 2 unless
    > `contrastive_weight=0` or the batches of several processes are gathered) and `prediction_loss_only=False`
    > (evaluation reports `eval_accuracy` and `eval_f1` from the head). The training batches of `alternating`, and
    > of `mixing` with `labelled_per_batch`, come from the trainer's own batch samplers (`hf_contrastive.data.batches`;
    > `batch_sampler` and `multi_dataset_batch_sampler` do not apply to them).
    """

    num_labels: int | None = field(default=None, metadata={"help": "Number of classes; None reads the label column."})
    head_learning_rate: float | None = field(
        default=None, metadata={"help": "Learning rate of the classification head; None uses learning_rate."}
    )

    learning_rate: float = field(default=2e-5, metadata={"help": "The initial learning rate."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "In-batch negatives grow with it."})
    prediction_loss_only: bool = field(default=False, metadata={"help": "False: evaluation reports accuracy and F1."})

    def __post_init__(self):
        if self.contrastive == "supcon" and self.strategy == "alternating":
            raise ValueError("`contrastive='supcon'` uses the labels, which `strategy='alternating'` keeps out of the "
                             "contrastive batches: use `strategy='mixing'`.")
        if self.num_labels is not None and self.num_labels < 2:
            raise ValueError(f"`num_labels` must be >= 2, got {self.num_labels}.")
        if self.head_learning_rate is not None and not self.head_learning_rate > 0:
            raise ValueError(f"`head_learning_rate` must be > 0, got {self.head_learning_rate}.")
        prediction_loss_only = self.prediction_loss_only
        super().__post_init__()  # the settings' checks, then the Trainer's arguments
        if self.labelled_per_batch is not None:
            labelled_rows(self.labelled_per_batch, self.per_device_train_batch_size)
        if self.contrastive_weight > 0:
            self.check_in_batch_negatives("with `contrastive_weight > 0` the contrastive term needs other rows in the "
                                          "batch (in-batch negatives); set `contrastive_weight=0` for plain "
                                          "cross-entropy.")
        self.prediction_loss_only = prediction_loss_only  # sentence-transformers forces True: its losses predict nothing
        if self.head_learning_rate is not None:  # after the parent turned a JSON string into a dict
            self.learning_rate_mapping = {**self.learning_rate_mapping, HEAD_PARAMETERS: self.head_learning_rate}


@dataclass
class SFTDataArguments:
    """
    SFT+contrastive's other data: a labelled evaluation set and the unlabelled texts of the contrastive term. Text
    labels become class ids shared by the training and evaluation sets (`hf_contrastive.data.sft`).

    Parameters:
        eval_file (`str`, *optional*):
            A labelled evaluation file (as `train_file`); or `eval_split`, a split of `dataset_name`.
        unlabelled_file (`str`, *optional*):
            Texts for the contrastive term only; or `unlabelled_split`, a split of `dataset_name` (labels unused).
    """

    _argument_group_name = "sft_contrastive data"

    eval_file: str | None = field(default=None, metadata={"help": "A labelled evaluation file."})
    eval_split: str | None = field(default=None, metadata={"help": "Or a labelled split of dataset_name."})
    unlabelled_file: str | None = field(default=None, metadata={"help": "Texts for the contrastive term only."})
    unlabelled_split: str | None = field(default=None, metadata={"help": "Or a split of dataset_name (its labels "
                                                                         "unused)."})

    def check(self, run: Any) -> None:
        """`eval_split` and `unlabelled_split` are splits of the config's `dataset_name` (`run`: its RunArguments)."""
        for name in ("eval_split", "unlabelled_split"):
            if getattr(self, name) and not run.dataset_name:
                file = name.replace("split", "file")
                raise ValueError(f"`{name}={getattr(self, name)!r}` is a split of `dataset_name`; give "
                                 f"`dataset_name`, or an `{file}`.")
