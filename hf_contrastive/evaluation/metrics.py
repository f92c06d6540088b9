"""Correlation metrics as `evaluate.Metric` classes shipped in the package, so nothing is fetched from the Hub
(`evaluate.load("spearmanr")` downloads a script and fails offline)."""

from __future__ import annotations

from collections.abc import Callable

import datasets
import evaluate
from scipy import stats


class _Correlation(evaluate.Metric):
    """A correlation coefficient between predicted and gold scores, returned as `{key: value}`."""

    key: str
    description: str
    coefficient: Callable

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=self.description,
            citation="",
            inputs_description="predictions (list of float): predicted scores; references (list of float): gold.",
            features=datasets.Features({"predictions": datasets.Value("float64"),
                                        "references": datasets.Value("float64")}),
        )

    def _compute(self, predictions, references) -> dict[str, float]:
        return {self.key: float(self.coefficient(references, predictions)[0])}


class Spearmanr(_Correlation):
    key, description, coefficient = "spearmanr", "Spearman rank-order correlation.", staticmethod(stats.spearmanr)


class Pearsonr(_Correlation):
    key, description, coefficient = "pearsonr", "Pearson correlation.", staticmethod(stats.pearsonr)


def correlations(predictions, references) -> dict[str, float]:
    """`{"pearson": ..., "spearman": ...}` through the `evaluate` Metric API (in memory, no cache files)."""
    spearman = Spearmanr(keep_in_memory=True).compute(predictions=predictions, references=references)
    pearson = Pearsonr(keep_in_memory=True).compute(predictions=predictions, references=references)
    return {"pearson": pearson["pearsonr"], "spearman": spearman["spearmanr"]}
