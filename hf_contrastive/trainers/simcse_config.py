"""`SimCSEConfig`: training arguments plus SimCSE's objective, with the paper's defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..losses.simcse import SimCSESettings
from .base_config import ContrastiveConfig

SimCSEMode = Literal["unsupervised", "supervised"]


@dataclass
class SimCSEConfig(SimCSESettings, ContrastiveConfig):
    r"""
    Configuration of the [`SimCSETrainer`] (Gao et al., 2021, https://arxiv.org/abs/2104.08821): the Trainer's
    arguments ([`ContrastiveConfig`]), SimCSE's objective (`SimCSESettings`: `temperature`, `hard_negative_weight`,
    the MLM term `do_mlm` / `mlm_weight` / `mlm_probability`, `gather_across_devices`, `mini_batch_size`, documented
    there) and:

    Parameters:
        > Parameters that control the objective

        mode (`str`, *optional*, defaults to `"unsupervised"`):
            `unsupervised`: one text column, dropout makes the two views. `supervised`: `(anchor, positive)` pairs
            or `(anchor, positive, negative)` triplets (SimCSE's NLI setting).
        mlp_only_train (`bool`, *optional*):
            With the `cls` pooler: use SimCSE's MLP in training only (the saved model pools `cls_before_pooler`).
            `None` means `True` in unsupervised mode and `False` in supervised mode, as the paper's scripts.

        > Model defaults

        pooler: `None` gives a plain encoder SimCSE's `cls` pooler and keeps a SentenceTransformer's own.

    > [!NOTE]
    > Defaults that differ from [`~transformers.TrainingArguments`]: `learning_rate=3e-5`,
    > `per_device_train_batch_size=64`, `num_train_epochs=1`, `max_seq_length=32` (unsupervised BERT-base in the
    > paper; the supervised setting uses `learning_rate=5e-5`, batch 512 and 3 epochs). `per_device_train_batch_size`
    > must be >= 2 (in-batch negatives), unless the batches of several processes are gathered.
    """

    mode: SimCSEMode = field(
        default="unsupervised", metadata={"help": "unsupervised: one text column; supervised: pairs or triplets."}
    )
    mlp_only_train: bool | None = field(
        default=None,
        metadata={"help": "cls pooler: MLP in training only. None: True when unsupervised, False when supervised."},
    )

    learning_rate: float = field(default=3e-5, metadata={"help": "SimCSE unsupervised BERT-base value."})
    per_device_train_batch_size: int = field(default=64, metadata={"help": "In-batch negatives grow with it."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "SimCSE trains one epoch (unsupervised)."})
    max_seq_length: int | None = field(default=32, metadata={"help": "Training truncation length (paper: 32)."})

    def __post_init__(self):
        super().__post_init__()  # SimCSESettings' checks, then the Trainer's arguments
        self.check_in_batch_negatives("SimCSE contrasts each sentence with the others in its batch (in-batch "
                                      "negatives).")
        if self.mlp_only_train and self.pooler not in (None, "cls"):
            raise ValueError(f"`mlp_only_train=True` needs `pooler='cls'`, got `pooler={self.pooler!r}`.")

    @property
    def resolved_mlp_only_train(self) -> bool:
        """`mlp_only_train`, with `None` resolved as in the paper's scripts."""
        return self.mode == "unsupervised" if self.mlp_only_train is None else self.mlp_only_train
