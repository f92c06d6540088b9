"""Correlation and classification metrics as `evaluate.Metric` classes shipped in the package, so nothing is fetched
from the Hub (`evaluate.load("spearmanr")` downloads a script and fails offline)."""

from __future__ import annotations

import datasets
import evaluate
import numpy as np
from scipy import stats


class _Score(evaluate.Metric):
    """A score of predictions against references, returned as `{key: value}`; subclasses give `score`."""

    key: str
    description: str
    dtype: str  # of the predictions and references

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=self.description,
            citation="",
            inputs_description=f"predictions (list of {self.dtype}); references (list of {self.dtype}): the gold.",
            features=datasets.Features({"predictions": datasets.Value(self.dtype),
                                        "references": datasets.Value(self.dtype)}),
        )

    def _compute(self, predictions, references) -> dict[str, float]:
        return {self.key: float(self.score(np.asarray(predictions), np.asarray(references)))}


class Spearmanr(_Score):
    key, description, dtype = "spearmanr", "Spearman rank-order correlation.", "float64"

    @staticmethod
    def score(predictions: np.ndarray, references: np.ndarray) -> float:
        return stats.spearmanr(references, predictions)[0]


class Pearsonr(_Score):
    key, description, dtype = "pearsonr", "Pearson correlation.", "float64"

    @staticmethod
    def score(predictions: np.ndarray, references: np.ndarray) -> float:
        return stats.pearsonr(references, predictions)[0]


def correlations(predictions, references) -> dict[str, float]:
    """`{"pearson": ..., "spearman": ...}` through the `evaluate` Metric API (in memory, no cache files)."""
    spearman = Spearmanr(keep_in_memory=True).compute(predictions=predictions, references=references)
    pearson = Pearsonr(keep_in_memory=True).compute(predictions=predictions, references=references)
    return {"pearson": pearson["pearsonr"], "spearman": spearman["spearmanr"]}


class Accuracy(_Score):
    key, description, dtype = "accuracy", "Share of predictions equal to the gold class.", "int64"

    @staticmethod
    def score(predictions: np.ndarray, references: np.ndarray) -> float:
        return (predictions == references).mean()


class MacroF1(_Score):
    """F1 per gold or predicted class, averaged with equal weights (scikit-learn's `f1_score(average="macro")`)."""

    key, description, dtype = "f1", "Macro-averaged F1 over the classes.", "int64"

    @staticmethod
    def score(predictions: np.ndarray, references: np.ndarray) -> float:
        scores = []
        for label in np.union1d(predictions, references):
            true_positives = np.sum((predictions == label) & (references == label))
            predicted, actual = np.sum(predictions == label), np.sum(references == label)
            scores.append(2 * true_positives / (predicted + actual))  # 2PR/(P+R); predicted + actual > 0 here
        return float(np.mean(scores))


def classification_metrics(eval_pred) -> dict[str, float]:
    """`compute_metrics` for a classifier's `EvalPrediction` (logits, label ids): `{"accuracy", "f1"}` (macro F1)
    through the `evaluate` Metric API. Rows labelled `-1` (unlabelled) are left out."""
    logits, labels = eval_pred.predictions, eval_pred.label_ids
    logits = logits[0] if isinstance(logits, tuple) else logits
    labels = np.asarray(labels).reshape(-1)
    keep = labels >= 0
    predictions, references = np.asarray(logits).argmax(axis=-1)[keep], labels[keep]
    if not keep.any():
        return {}
    accuracy = Accuracy(keep_in_memory=True).compute(predictions=predictions, references=references)
    f1 = MacroF1(keep_in_memory=True).compute(predictions=predictions, references=references)
    return {**accuracy, **f1}
