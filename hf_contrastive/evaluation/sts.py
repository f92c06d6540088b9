"""Semantic textual similarity during training: `STSEvaluator` (Spearman/Pearson of cosine similarity against gold
scores; STS-B dev for best-checkpoint selection) and `is_sts_dataset`, which tells the trainer an evaluation set is one.

The files it reads are in `sts_files`, the paper-protocol suite in `sts_suite`."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from sentence_transformers.base.evaluation import BaseEvaluator

from ..errors import DataError
from .sts_files import STS_COLUMNS, load_stsb, read_sts_file, score_problem

logger = logging.getLogger(__name__)

__all__ = ["STSEvaluator", "is_sts_dataset", "load_stsb", "read_sts_file"]


def is_sts_dataset(dataset: Any) -> bool:
    """Whether `dataset` has the `sentence1`, `sentence2`, `score` columns of an STS set."""
    return set(STS_COLUMNS) <= set(getattr(dataset, "column_names", None) or ())


class STSEvaluator(BaseEvaluator):
    """Pearson and Spearman correlation between the cosine similarity of two sentences' embeddings and the gold
    scores; the primary metric is `{name}_spearman_cosine` (so `metric_for_best_model` is
    `eval_{name}_spearman_cosine` in a trainer). Sentences are de-duplicated before encoding. Metrics are computed
    through `evaluate`'s Metric API with metric code shipped in this package.

    Args:
        sentences1, sentences2 (`list[str]`): the pairs.
        scores (`list[float]`): gold similarity of each pair (any scale: the correlations do not depend on it).
        name (`str`, *optional*, defaults to `"sts"`): prefix of the metric names.
        batch_size (`int`, *optional*, defaults to `64`): encoding batch size.
    """

    def __init__(
        self,
        sentences1: list[str],
        sentences2: list[str],
        scores: list[float],
        name: str = "sts",
        batch_size: int = 64,
        show_progress_bar: bool = False,
    ):
        super().__init__()
        sentences1, sentences2, scores = list(sentences1), list(sentences2), list(scores)
        if not (len(sentences1) == len(sentences2) == len(scores)):
            raise DataError(
                f"STS pairs need equal lengths: {len(sentences1)} sentence1, {len(sentences2)} sentence2, "
                f"{len(scores)} scores."
            )
        if len(scores) < 2:
            raise DataError(f"An STS evaluation needs at least 2 pairs, got {len(scores)}.")
        for column, values in (("sentence1", sentences1), ("sentence2", sentences2)):
            row = next((i for i, text in enumerate(values) if not isinstance(text, str)), None)
            if row is not None:
                raise DataError(f"STS data {name!r} row {row}: `{column}` must be a string, got {values[row]!r}.")
        for row, score in enumerate(scores):
            problem = score_problem(score)
            if problem:
                raise DataError(f"STS data {name!r} row {row}: `score` {problem}, got {score!r}.")
        self.sentences1, self.sentences2 = sentences1, sentences2
        self.scores = [float(s) for s in scores]
        self.name = name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.primary_metric = "spearman_cosine"

    @classmethod
    def from_dataset(cls, dataset, name: str = "sts", **kwargs) -> STSEvaluator:
        """From a `datasets.Dataset` with `sentence1`, `sentence2` and `score` columns."""
        missing = [c for c in STS_COLUMNS if c not in dataset.column_names]
        if missing:
            raise DataError(f"STS evaluation data misses column(s) {missing}; it has {dataset.column_names}.")
        return cls(dataset["sentence1"], dataset["sentence2"], dataset["score"], name=name, **kwargs)

    def cosine_scores(self, model) -> np.ndarray:
        """Cosine similarity of each pair, encoding every distinct sentence once."""
        unique = list(dict.fromkeys(self.sentences1 + self.sentences2))
        index = {sentence: i for i, sentence in enumerate(unique)}
        embeddings = model.encode(unique, batch_size=self.batch_size, convert_to_tensor=True,
                                  show_progress_bar=self.show_progress_bar)
        embeddings = torch.nn.functional.normalize(embeddings.double(), dim=-1)
        left = embeddings[[index[s] for s in self.sentences1]]
        right = embeddings[[index[s] for s in self.sentences2]]
        return (left * right).sum(-1).cpu().numpy()

    def compute_metrics(self, model) -> dict[str, float]:
        """`{name}_pearson_cosine` and `{name}_spearman_cosine`, without recording them anywhere."""
        from .metrics import correlations

        result = correlations(predictions=self.cosine_scores(model).tolist(), references=self.scores)
        metrics = {"pearson_cosine": result["pearson"], "spearman_cosine": result["spearman"]}
        logger.info(f"STS {self.name}: Pearson {metrics['pearson_cosine']:.4f}, Spearman {metrics['spearman_cosine']:.4f}")
        return self.prefix_name_to_metrics(metrics, self.name)

    def __call__(self, model, output_path: str | None = None, epoch: float = -1, steps: int = -1) -> dict[str, float]:
        """Compute the metrics and record them in `model.model_card_data` (the evaluator protocol)."""
        metrics = self.compute_metrics(model)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    @property
    def description(self) -> str:
        return "Semantic Similarity"

