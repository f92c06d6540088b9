"""What the suites' results share: the equal-weight average with its aggregation stated, the printed table, the
conversion to the Hub's model-index `EvalResult`s, and `evaluation_results`, which turns whatever is passed as a
model card's `evaluation=` into `(EvalResults, aggregation text)`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

EVAL_SOURCE_NAME = "hf_contrastive"


def make_eval_result(*, task_type: str, task_name: str, dataset_id: str, dataset_name: str, split: str,
                     revision: str | None, metric_type: str, metric_name: str, value: float,
                     source_url: str | None = None):
    """A `huggingface_hub.EvalResult` (one model-index entry). The source is named `hf_contrastive` only with a
    `source_url` (the Hub requires a URL with a source name: e.g. the model's page); `revision` is the Hub revision
    the data was loaded at, `None` for local data (no revision is claimed)."""
    from huggingface_hub import EvalResult

    source = {"source_name": EVAL_SOURCE_NAME, "source_url": source_url} if source_url else {}
    return EvalResult(task_type=task_type, task_name=task_name, dataset_type=dataset_id, dataset_name=dataset_name,
                      dataset_split=split, dataset_revision=revision, metric_type=metric_type,
                      metric_name=metric_name, metric_value=round(float(value), 4), **source)


def equal_weight_average(scores: Sequence[float]) -> float:
    """The plain mean of the tasks' scores: each task weighs the same, whatever its size."""
    return float(np.mean(list(scores)))


@dataclass(frozen=True)
class Column:
    """A column of a printed table: its header, width and number format (`".2f"`); the first column is left-aligned."""

    header: str
    width: int
    number_format: str = ""


def format_table(columns: Sequence[Column], rows: Sequence[Sequence[Any]], aggregation: str | None = None) -> str:
    """A plain-text table (`None` cells left blank), then `Aggregation: ...` when given."""

    def cell(column: Column, value: Any, first: bool) -> str:
        text = "" if value is None else format(value, column.number_format if not isinstance(value, str) else "")
        return f"{text:<{column.width}}" if first else f"{text:>{column.width}}"

    lines = ["".join(cell(c, c.header, i == 0) for i, c in enumerate(columns))]
    lines += ["".join(cell(c, value, i == 0) for i, (c, value) in enumerate(zip(columns, row))) for row in rows]
    if aggregation:
        lines.append(f"Aggregation: {aggregation}.")
    return "\n".join(lines)


class SuiteResult:
    """What a suite's result (a frozen dataclass with `results`, one per task, and `aggregation`) does with its task
    results, each of which has `task`, `score`, `eval_results(source_url)`, `to_dict()` and `cells()` (its table row).
    A suite declares its `title`, the `score_key` of its averaged score, its table `columns` and `total_cells()`."""

    title: ClassVar[str]
    score_key: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    results: tuple
    aggregation: str

    @property
    def average(self) -> float:
        """Mean of the tasks' scores, each task weighted equally."""
        return equal_weight_average([result.score for result in self.results])

    @property
    def scores(self) -> dict[str, float]:
        """`{task name: score}`."""
        return {result.task.name: result.score for result in self.results}

    def eval_results(self, source_url: str | None = None) -> list:
        """The tasks' `huggingface_hub.EvalResult`s, for `ModelCardData(eval_results=...)` or a trainer's
        `push_to_hub(evaluation=...)`. The average is not an `EvalResult`: it belongs to no single dataset."""
        return [entry for result in self.results for entry in result.eval_results(source_url)]

    def to_dict(self) -> dict[str, Any]:
        return {"suite": self.title, "aggregation": self.aggregation, f"average_{self.score_key}": self.average,
                "tasks": [result.to_dict() for result in self.results]}

    def total_cells(self) -> tuple:
        """The `average` row of the table."""
        raise NotImplementedError

    def table(self, average: bool = True) -> str:
        """One row per task, then the average row and the aggregation (without them for `average=False`: e.g. for
        sets whose average means nothing, such as a dev and a test split)."""
        rows = [result.cells() for result in self.results]
        if not average:
            return format_table(self.columns, rows)
        return format_table(self.columns, rows + [self.total_cells()], self.aggregation)


def evaluation_results(evaluation: Any) -> tuple[list, str | None]:
    """`(list of huggingface_hub.EvalResult, aggregation text or None)` from what a model card's `evaluation=` takes:
    a suite result (`evaluate_sts_suite`, `evaluate_transfer_suite`), a list of suite results (their aggregations
    joined, each after its suite's title), a list of `EvalResult`s, or `None`."""
    if evaluation is None:
        return [], None
    if isinstance(evaluation, SuiteResult):
        return evaluation.eval_results(), evaluation.aggregation
    items = list(evaluation)
    suites = [item for item in items if isinstance(item, SuiteResult)]
    results = []
    for item in items:
        if isinstance(item, SuiteResult):
            results += item.eval_results()
        elif hasattr(item, "metric_value") and hasattr(item, "dataset_type"):
            results.append(item)
        else:
            raise TypeError(f"`evaluation` takes suite results or huggingface_hub.EvalResults, got "
                            f"{type(item).__name__}.")
    if not suites:
        return results, None
    if len(suites) == 1:
        return results, suites[0].aggregation
    return results, " ".join(f"{suite.title}: {suite.aggregation}." for suite in suites)
