"""`SupConConfig`: training arguments plus SupCon's objective, with the reference code's defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..losses.supcon import SupConSettings
from .base_config import ContrastiveConfig


@dataclass
class SupConConfig(SupConSettings, ContrastiveConfig):
    r"""
    Configuration of the [`SupConTrainer`] (Khosla et al., 2020, https://arxiv.org/abs/2004.11362): the Trainer's
    arguments ([`ContrastiveConfig`]) and SupCon's objective (`SupConSettings`: `temperature`, `base_temperature`,
    `num_views`, `anchors_without_positive`, `contrast_mode`, `gather_across_devices`, `mini_batch_size`,
    documented there).

    Parameters:
        > Parameters that control the objective

        num_views (`int`, *optional*, defaults to `2`):
            Encodings of each text column in one forward pass: dropout makes the views. The reference code trains on
            two augmented views of every image (`TwoCropTransform`); 2 is the text analogue (SimCSE's dropout
            views). `1` is SetFit's single view: positives are then only the other rows of the same class.

        > Model defaults

        pooler: `None` gives a plain encoder mean pooling (`avg`) and keeps a SentenceTransformer's own.

    > [!NOTE]
    > Defaults that differ from [`~transformers.TrainingArguments`]: `learning_rate=3e-5`,
    > `per_device_train_batch_size=64` (positives and negatives are the batch's other rows: at least 2 unless the
    > batches of several processes are gathered), `max_seq_length=32`. The reference's image settings (SGD at 0.5,
    > batch 1024, 1,000 epochs) do not carry over to a pretrained text encoder.
    """

    num_views: int = field(default=2, metadata={"help": "Dropout views per text column (reference: 2 views)."})

    learning_rate: float = field(default=3e-5, metadata={"help": "The initial learning rate."})
    per_device_train_batch_size: int = field(default=64, metadata={"help": "Positives and negatives grow with it."})
    max_seq_length: int | None = field(default=32, metadata={"help": "Training truncation length."})

    def __post_init__(self):
        super().__post_init__()  # SupConSettings' checks, then the Trainer's arguments
        self.check_in_batch_negatives("SupCon contrasts each text with the other rows of its batch.")
