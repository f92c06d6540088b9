"""Correlation metrics as `evaluate.Metric` classes shipped in the package, so nothing is fetched from the Hub
(`evaluate.load("spearmanr")` downloads a script and fails offline)."""

from __future__ import annotations

import datasets
import evaluate
from scipy import stats

_FEATURES = datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("float64")})
_INPUTS = """
Args:
    predictions (`list` of `float`): predicted scores.
    references (`list` of `float`): gold scores.
"""


class Spearmanr(evaluate.Metric):
    """Spearman rank correlation (scipy.stats.spearmanr)."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Spearman rank-order correlation coefficient.",
            citation="",
            inputs_description=_INPUTS,
            features=_FEATURES,
        )

    def _compute(self, predictions, references) -> dict[str, float]:
        return {"spearmanr": float(stats.spearmanr(references, predictions)[0])}


class Pearsonr(evaluate.Metric):
    """Pearson correlation (scipy.stats.pearsonr)."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Pearson correlation coefficient.",
            citation="",
            inputs_description=_INPUTS,
            features=_FEATURES,
        )

    def _compute(self, predictions, references) -> dict[str, float]:
        return {"pearsonr": float(stats.pearsonr(references, predictions)[0])}


def correlations(predictions, references) -> dict[str, float]:
    """`{"pearson": ..., "spearman": ...}` through the `evaluate` Metric API (in memory, no cache files)."""
    spearman = Spearmanr(keep_in_memory=True).compute(predictions=predictions, references=references)
    pearson = Pearsonr(keep_in_memory=True).compute(predictions=predictions, references=references)
    return {"pearson": pearson["pearsonr"], "spearman": spearman["spearmanr"]}
