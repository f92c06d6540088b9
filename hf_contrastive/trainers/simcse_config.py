"""`SimCSEConfig`: training arguments plus SimCSE's objective, with the paper's defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..losses.checks import check_gradient_cache, check_objective
from .base_config import ContrastiveConfig

SIMCSE_MODES = ("unsupervised", "supervised")


@dataclass
class SimCSEConfig(ContrastiveConfig):
    r"""
    Configuration of the [`SimCSETrainer`] (Gao et al., 2021, https://arxiv.org/abs/2104.08821).

    Parameters:
        > Parameters that control the objective

        mode (`str`, *optional*, defaults to `"unsupervised"`):
            `unsupervised`: one text column, dropout makes the two views. `supervised`: `(anchor, positive)` pairs
            or `(anchor, positive, negative)` triplets (SimCSE's NLI setting).
        temperature (`float`, *optional*, defaults to `0.05`):
            Softmax temperature of InfoNCE (paper: 0.05 is best, Table D.1).
        hard_negative_weight (`float`, *optional*, defaults to `0.0`):
            Added to each row's own hard-negative logit (log of the paper's α; 0 means α = 1).
        mlp_only_train (`bool`, *optional*):
            With the `cls` pooler: use SimCSE's MLP in training only (the saved model pools `cls_before_pooler`).
            `None` means `True` in unsupervised mode and `False` in supervised mode, as the paper's scripts.
        do_mlm (`bool`, *optional*, defaults to `False`):
            Add the masked-language-model auxiliary term (logged as `mlm`).
        mlm_weight (`float`, *optional*, defaults to `0.1`):
            Weight λ of the MLM term.
        mlm_probability (`float`, *optional*, defaults to `0.15`):
            Share of tokens masked for the MLM term.
        gather_across_devices (`bool`, *optional*, defaults to `True`):
            Under DDP (torchrun / accelerate), contrast with the positives and negatives of every process, gathered
            with their gradients (world_size x batch negatives, as the paper's multi-GPU runs).
        mini_batch_size (`int`, *optional*):
            Gradient caching: a large batch is embedded this many texts at a time (dropout replayed), with the same
            gradients as without caching and flat memory. `None` embeds the whole batch at once.

        > Model defaults

        pooler: `None` gives a plain encoder SimCSE's `cls` pooler and keeps a SentenceTransformer's own.

    > [!NOTE]
    > Defaults that differ from [`~transformers.TrainingArguments`]: `learning_rate=3e-5`,
    > `per_device_train_batch_size=64`, `num_train_epochs=1`, `max_seq_length=32` (unsupervised BERT-base in the
    > paper; the supervised setting uses `learning_rate=5e-5`, batch 512 and 3 epochs). `per_device_train_batch_size`
    > must be >= 2 (in-batch negatives), unless the batches of several processes are gathered.
    """

    mode: str = field(default="unsupervised", metadata={"help": "unsupervised | supervised"})
    temperature: float = field(default=0.05, metadata={"help": "InfoNCE softmax temperature."})
    hard_negative_weight: float = field(
        default=0.0, metadata={"help": "Added to each row's own hard-negative logit (log of SimCSE's alpha)."}
    )
    mlp_only_train: bool | None = field(
        default=None,
        metadata={"help": "cls pooler: MLP in training only. None: True when unsupervised, False when supervised."},
    )
    do_mlm: bool = field(default=False, metadata={"help": "Add the MLM auxiliary objective."})
    mlm_weight: float = field(default=0.1, metadata={"help": "Weight of the MLM auxiliary objective."})
    mlm_probability: float = field(default=0.15, metadata={"help": "Share of tokens masked for MLM."})

    gather_across_devices: bool = field(
        default=True, metadata={"help": "Under DDP, negatives from every process (gathered with gradients)."}
    )
    mini_batch_size: int | None = field(
        default=None, metadata={"help": "Gradient caching: embed the batch this many texts at a time."}
    )

    learning_rate: float = field(default=3e-5, metadata={"help": "SimCSE unsupervised BERT-base value."})
    per_device_train_batch_size: int = field(default=64, metadata={"help": "In-batch negatives grow with it."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "SimCSE trains one epoch (unsupervised)."})
    max_seq_length: int | None = field(default=32, metadata={"help": "Training truncation length (paper: 32)."})

    def __post_init__(self):
        if self.mode not in SIMCSE_MODES:
            raise ValueError(f"`mode` must be one of {SIMCSE_MODES}, got {self.mode!r}.")
        check_objective(self.temperature, self.mlm_weight, self.mlm_probability)
        check_gradient_cache(self.mini_batch_size, self.do_mlm)
        super().__post_init__()
        if self.per_device_train_batch_size < 2 and not (self.gather_across_devices and self.world_size > 1):
            raise ValueError(f"`per_device_train_batch_size` must be >= 2, got {self.per_device_train_batch_size}: "
                             "SimCSE contrasts each sentence with the others in its batch (in-batch negatives).")
        if self.mlp_only_train and self.pooler not in (None, "cls"):
            raise ValueError(f"`mlp_only_train=True` needs `pooler='cls'`, got `pooler={self.pooler!r}`.")

    @property
    def resolved_mlp_only_train(self) -> bool:
        """`mlp_only_train`, with `None` resolved as in the paper's scripts."""
        return self.mode == "unsupervised" if self.mlp_only_train is None else self.mlp_only_train
