"""`SimCSETrainer`: unsupervised and supervised SimCSE as a drop-in `transformers.Trainer`."""

from __future__ import annotations

from typing import Any

from sentence_transformers import SentenceTransformer

from ..data.transforms import simcse_columns
from ..losses.simcse import SimCSELoss
from ..modeling.builder import build_sentence_transformer
from ..tuning import LEARNING_RATE, TEMPERATURE
from .base_trainer import ContrastiveTrainer
from .simcse_config import SimCSEConfig


class SimCSETrainer(ContrastiveTrainer):
    """
    Trains a sentence-embedding model with SimCSE (Gao et al., 2021).

    Example:
        >>> args = SimCSEConfig(output_dir="out", pooler="cls", eval_strategy="steps", eval_steps=125,
        ...                     metric_for_best_model="eval_sts-dev_spearman_cosine", load_best_model_at_end=True)
        >>> trainer = SimCSETrainer(model="bert-base-uncased", args=args, train_dataset=Dataset.from_dict({"text": t}),
        ...                         eval_dataset=load_stsb("dev"))
        >>> trainer.train()
        >>> SentenceTransformer("out")  # the pooler used in training, without the training-only MLP

    `model` is a Hub id or path (a plain encoder gets `args.pooler`, default `cls`; with `mlp_only_train` the MLP
    lives in the loss and the saved model pools `cls_before_pooler`) or a `SentenceTransformer`. The default loss
    is `SimCSELoss` built from the config; pass `loss=` to use another.
    """

    method = "simcse"
    method_name = "SimCSE"
    paper = {"title": "SimCSE: Simple Contrastive Learning of Sentence Embeddings", "id": "2104.08821"}
    card_fields = ("mode",)
    loss_class = SimCSELoss
    training_args_class = SimCSEConfig
    help = "SimCSE (Gao et al., 2021): unsupervised on plain texts (dropout views), or supervised on NLI triplets"
    # the in-batch negatives: the paper tunes the batch with the learning rate (its Appendix A grid)
    search_space = {"learning_rate": LEARNING_RATE, "temperature": TEMPERATURE,
                    "per_device_train_batch_size": {"type": "categorical", "choices": [32, 64, 128]}}

    data_fields = ("mode",)  # the columns of the prepared data
    _train_only_mlp = False  # whether the model was built to pool `cls_before_pooler`, its MLP in the loss

    def as_model(self, model: Any, args: SimCSEConfig) -> SentenceTransformer | None:
        if isinstance(model, SentenceTransformer) and args.mlp_only_train:
            raise ValueError(
                "`mlp_only_train=True` applies when the trainer builds the model from a name or path with "
                "`pooler='cls'`; for a SentenceTransformer, pass `loss=SimCSELoss(model, mlp_only_train=True)`."
            )
        self._train_only_mlp = False
        return super().as_model(model, args)

    def build_model(self, model_name_or_path: str, args: SimCSEConfig) -> SentenceTransformer:
        pooler = self.pooler_for(model_name_or_path, args)
        if args.mlp_only_train and pooler != "cls":
            raise ValueError(
                f"`mlp_only_train=True` needs the `cls` pooler; {model_name_or_path!r} keeps its own pooling "
                "(set `pooler='cls'` to replace it)."
            )
        self._train_only_mlp = pooler == "cls" and args.resolved_mlp_only_train
        if self._train_only_mlp:
            pooler = "cls_before_pooler"
        return build_sentence_transformer(model_name_or_path, pooler=pooler)

    def prepare_dataset(self, dataset: Any, args: SimCSEConfig, name: str, model: SentenceTransformer) -> Any:
        return simcse_columns(dataset, args.mode, name)

    def loss_arguments(self, model: SentenceTransformer) -> dict[str, Any]:
        return {"mlp_only_train": self._train_only_mlp}
