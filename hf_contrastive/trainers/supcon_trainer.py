"""`SupConTrainer`: supervised contrastive learning on labelled texts as a drop-in `transformers.Trainer`."""

from __future__ import annotations

from typing import Any

from sentence_transformers import SentenceTransformer

from ..data.sft import sft_datasets
from ..data.transforms import supcon_columns
from ..losses.supcon import SupConLoss
from ..tuning import LEARNING_RATE, TEMPERATURE
from .base_trainer import ContrastiveTrainer
from .supcon_config import SupConConfig


class SupConTrainer(ContrastiveTrainer):
    """
    Trains a sentence-embedding model with supervised contrastive learning (SupCon, Khosla et al., 2020): the texts
    of a class are pulled together, all others pushed apart.

    Example:
        >>> args = SupConConfig(output_dir="out", num_views=2, temperature=0.07)
        >>> trainer = SupConTrainer(model="sentence-transformers/all-MiniLM-L6-v2", args=args,
        ...                         train_dataset=Dataset.from_dict({"text": texts, "label": labels}),
        ...                         eval_dataset=load_stsb("dev"))
        >>> trainer.train()
        >>> SentenceTransformer("out")

    Data: `train_dataset` holds one text column or several (views of the row, e.g. a text and its paraphrase) and a
    `label` column of class ids (`supcon_columns`). Each text column is encoded `args.num_views` times in one forward
    pass, so dropout makes the views; every view of every row is an anchor and its positives are the other views of
    its row and of its class. The default loss is `SupConLoss` built from the config; pass `loss=` to use another.
    """

    method = "supcon"
    method_name = "SupCon"
    help = "SupCon (Khosla et al., 2020): labelled texts, a class's texts pulled together (dropout views)"
    paper = {"title": "Supervised Contrastive Learning", "id": "2004.11362"}
    loss_class = SupConLoss
    training_args_class = SupConConfig
    default_pooler = "avg"
    # `num_views` changes the positives per anchor with the learning rate; the temperature as for every method
    search_space = {"learning_rate": LEARNING_RATE, "temperature": TEMPERATURE,
                    "num_views": {"type": "categorical", "choices": [1, 2]}}

    @classmethod
    def run_datasets(cls, train_dataset: Any, sts_dataset: Any, data: Any, load) -> tuple[Any, Any, dict]:
        """A config file's training set with text labels made class ids (the sorted names), evaluated on the STS
        set."""
        return sft_datasets(train_dataset)[0], sts_dataset, {}

    def prepare_dataset(self, dataset: Any, args: SupConConfig, name: str, model: SentenceTransformer) -> Any:
        return supcon_columns(dataset, name)
