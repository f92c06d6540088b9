"""Semantic textual similarity: Spearman/Pearson of cosine similarity against gold scores, as a training evaluator
(STS-B dev for best-checkpoint selection) and after training."""

from __future__ import annotations

import csv
import gzip
import logging
from typing import Any

import numpy as np
import torch
from sentence_transformers.base.evaluation import BaseEvaluator

from ..resources import stsb_path

logger = logging.getLogger(__name__)

STS_COLUMNS = ("sentence1", "sentence2", "score")
STSB_SPLITS = ("dev", "test")


def is_sts_dataset(dataset: Any) -> bool:
    """Whether `dataset` has the `sentence1`, `sentence2`, `score` columns of an STS set."""
    return set(STS_COLUMNS) <= set(getattr(dataset, "column_names", None) or ())


def _open_text(path: str):
    return gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path, encoding="utf-8")


def _parse_score(value: Any, path: str, line: int) -> float:
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{path}, line {line}: `score` must be a number, got {value!r}.") from None
    if not np.isfinite(score):
        raise ValueError(f"{path}, line {line}: `score` must be finite, got {value!r}.")
    return score


def read_sts_file(path: str, split: str | None = None) -> dict[str, list]:
    """Read an STS file into `{"sentence1": [...], "sentence2": [...], "score": [...]}`.

    Accepts TSV (`.tsv`, tab-separated, no quoting, as STS-B's own files), CSV (`.csv`) or JSON lines (`.jsonl`),
    optionally gzipped, with a header naming `sentence1`, `sentence2` and `score` columns (other columns are
    ignored). With `split`, keeps only rows whose `split` column equals it (sentence-transformers'
    `stsbenchmark.tsv.gz` layout). Raises `ValueError` naming the file, line and field for malformed rows.
    """
    import json

    name = path[:-3] if path.endswith(".gz") else path
    rows: list[tuple[int, dict]] = []
    with _open_text(path) as f:
        if name.endswith(".jsonl"):
            for line_number, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        rows.append((line_number, json.loads(line)))
                    except json.JSONDecodeError as error:
                        raise ValueError(f"{path}, line {line_number}: not valid JSON ({error.msg}).") from None
        else:
            dialect = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if name.endswith(".tsv") else {}
            reader = csv.DictReader(f, **dialect)
            missing = [c for c in STS_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: missing column(s) {missing}; the header is {reader.fieldnames}.")
            rows = [(reader.line_num, row) for row in reader]
    data: dict[str, list] = {column: [] for column in STS_COLUMNS}
    for line_number, row in rows:
        if split is not None and row.get("split") != split:
            continue
        for column in ("sentence1", "sentence2"):
            if not isinstance(row.get(column), str):
                raise ValueError(f"{path}, line {line_number}: `{column}` must be a string, got {row.get(column)!r}.")
        data["sentence1"].append(row["sentence1"])
        data["sentence2"].append(row["sentence2"])
        data["score"].append(_parse_score(row.get("score"), path, line_number))
    if not data["score"]:
        where = f" with split {split!r}" if split is not None else ""
        raise ValueError(f"{path}: no STS pairs{where}.")
    return data


def load_stsb(split: str = "dev"):
    """STS Benchmark `dev` or `test` (shipped with the package) as a `datasets.Dataset` with `sentence1`,
    `sentence2` and `score` (0–5)."""
    from datasets import Dataset

    if split not in STSB_SPLITS:
        raise ValueError(f"`split` must be one of {STSB_SPLITS}, got {split!r} (STS-B train is not shipped).")
    return Dataset.from_dict(read_sts_file(stsb_path(), split=split))


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
        if not (len(sentences1) == len(sentences2) == len(scores)):
            raise ValueError(
                f"STS pairs need equal lengths: {len(sentences1)} sentence1, {len(sentences2)} sentence2, "
                f"{len(scores)} scores."
            )
        if len(scores) < 2:
            raise ValueError(f"An STS evaluation needs at least 2 pairs, got {len(scores)}.")
        self.sentences1, self.sentences2 = list(sentences1), list(sentences2)
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
            raise ValueError(f"STS evaluation data misses column(s) {missing}; it has {dataset.column_names}.")
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
