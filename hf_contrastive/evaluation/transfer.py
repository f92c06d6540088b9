"""The SentEval transfer suite (the second table of SimCSE, DeCLUTR's headline results): a linear classifier on
frozen sentence embeddings, per-task accuracy x100 and their equal-weight average.

Protocol (deterministic for a given `seed`):

- each distinct text is embedded once (per suite: MR's sentences recur in SST-2), exactly as `model.encode` returns
  it (no normalisation, no scaling);
- the classifier is scikit-learn's `LogisticRegression(C=1.0, max_iter=1000)` (or `classifier=`, cloned with
  `sklearn.base.clone` for every fit);
- MR, CR, SUBJ, MPQA: `StratifiedKFold(n_splits=10, shuffle=True, random_state=seed)`, the mean of the ten test-fold
  accuracies;
- TREC (6 coarse classes), SST-2: fit on train, accuracy on test (SST-2 also on dev);
- MRPC: features `[u, v, |u - v|, u * v]` of the two sentences' embeddings, fit on train, accuracy and F1 (of the
  paraphrase class) on test;
- a fit sees only its training rows (a text may still occur in both, as SentEval's data has it).

SentEval itself tunes its classifier's L2 penalty on inner validation splits (and SimCSE's setting fits it in
PyTorch); this suite keeps SentEval's data, splits and features but fits one fixed scikit-learn logistic regression
(as mteb and SetFit do), so its figures are close to, not identical with, the papers'.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .results import Column, SuiteResult, make_eval_result
from .transfer_data import TransferTask, TransferTaskData, load_transfer_suite

logger = logging.getLogger(__name__)

EVAL_TASK_TYPE = "text-classification"
DEFAULT_CLASSIFIER = "scikit-learn LogisticRegression(C=1.0, max_iter=1000)"


def default_classifier():
    """The protocol's classifier: scikit-learn's `LogisticRegression(C=1.0, max_iter=1000)`."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=1000)


def transfer_aggregation(classifier: str = DEFAULT_CLASSIFIER, max_train_rows: int | None = None) -> str:
    """How the suite's figures are made and averaged, for the result, the printed table and the model card."""
    sampled = (f" (every classifier fit on at most {max_train_rows:,} rows: a stratified sample of each task's train "
               f"split, or of {max_train_rows * 10 // 9:,} rows of a 10-fold task)" if max_train_rows else "")
    return (f"accuracy x100 of a {classifier} on the frozen embeddings: mean of 10 stratified test folds for MR, CR, "
            f"SUBJ and MPQA, test accuracy after fitting on train for TREC, SST-2 and MRPC{sampled}; averaged with "
            "equal weight per task")


def embed(model, texts: Sequence[str], batch_size: int, show_progress_bar: bool = False,
          cache: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, int]:
    """The embeddings of the distinct `texts`, as `model.encode` returns them, and how many were encoded: with `cache`
    (text -> embedding, shared by a suite's tasks), only the texts not in it yet, which are added to it."""
    cache = {} if cache is None else cache
    new = [text for text in texts if text not in cache]
    if new:
        cache.update(zip(new, np.asarray(model.encode(new, batch_size=batch_size, convert_to_numpy=True,
                                                      show_progress_bar=show_progress_bar))))
    return np.stack([cache[text] for text in texts]), len(new)


def pair_features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """SentEval's sentence-pair features: `[u, v, |u - v|, u * v]`, concatenated along the last axis."""
    return np.concatenate([u, v, np.abs(u - v), u * v], axis=-1)


def row_features(data: TransferTaskData, embeddings: np.ndarray, index: Mapping[str, int]) -> np.ndarray:
    """Each row's features from the embeddings of the task's distinct texts (`index`: text -> row of
    `embeddings`): the text's embedding, or `pair_features` of a pair's two."""
    columns = [embeddings[[index[row[k]] for row in data.texts]] for k in range(len(data.task.text_columns))]
    return columns[0] if len(columns) == 1 else pair_features(*columns)


def fit(classifier: Any, features: np.ndarray, labels: np.ndarray, rows: Sequence[int]) -> Any:
    """A fresh clone of `classifier`, fit on `rows` only."""
    from sklearn.base import clone

    return clone(classifier).fit(features[rows], labels[rows])


def cross_validated_accuracies(classifier: Any, features: np.ndarray, labels: np.ndarray, folds: int,
                               seed: int) -> list[float]:
    """Accuracy x100 on each test fold of `StratifiedKFold(folds, shuffle=True, random_state=seed)`, each after a fit
    on the other folds."""
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [100 * accuracy_score(labels[test], fit(classifier, features, labels, train).predict(features[test]))
            for train, test in splitter.split(features, labels)]


def train_test_scores(classifier: Any, features: np.ndarray, labels: np.ndarray,
                      data: TransferTaskData) -> dict[str, float]:
    """One fit on the `train` rows; accuracy x100 on `test` (`accuracy`) and on `dev` when the task has one
    (`dev_accuracy`), and F1 x100 of the task's positive class on `test` when it has one (`f1`)."""
    from sklearn.metrics import accuracy_score, f1_score

    fitted = fit(classifier, features, labels, data.rows("train"))
    scores = {}
    for split, key in (("test", "accuracy"), ("dev", "dev_accuracy")):
        if split in data.task.splits:
            rows = data.rows(split)
            predicted = fitted.predict(features[rows])
            scores[key] = 100 * accuracy_score(labels[rows], predicted)
            if split == "test" and data.task.positive_label is not None:
                positive = data.task.labels.index(data.task.positive_label)
                scores["f1"] = 100 * f1_score(labels[rows], predicted, pos_label=positive)
    return scores


def sample_train_rows(data: TransferTaskData, max_rows: int, seed: int) -> TransferTaskData:
    """`data` cut so that no classifier is fit on more than `max_rows` rows (a stratified random sample drawn with
    `seed`), for a faster suite: a train/test task keeps `max_rows` of its `train` rows and its other splits whole; a
    cross-validated task keeps `max_rows * folds // (folds - 1)` of its rows, so that each fit (on all folds but one)
    sees at most `max_rows`."""
    from sklearn.model_selection import train_test_split

    task = data.task
    pool = list(range(len(data.labels))) if task.folds else data.rows("train")
    size = max_rows * task.folds // (task.folds - 1) if task.folds else max_rows
    if len(pool) <= size:
        return data
    kept, _ = train_test_split(pool, train_size=size, stratify=[data.labels[row] for row in pool],
                               random_state=seed)
    if task.folds:
        counts = Counter(data.labels[row] for row in kept)
        fewest = min(range(len(task.labels)), key=lambda label: counts[label])
        if counts[fewest] < task.folds:
            raise ValueError(f"`max_train_rows`={max_rows} leaves {task.name} {counts[fewest]} rows of class "
                             f"{task.labels[fewest]!r}, fewer than its {task.folds} cross-validation folds; give a "
                             "larger value or None.")
    others = [] if task.folds else [row for row, split in enumerate(data.splits) if split != "train"]
    keep = sorted([*kept, *others])
    return TransferTaskData(task, tuple(data.texts[row] for row in keep), tuple(data.labels[row] for row in keep),
                            tuple(data.splits[row] for row in keep) if data.splits else (), source=data.source)


@dataclass(frozen=True)
class TransferTaskResult:
    """One task's scores (x100) with its size, time and data source.

    Args:
        task (`TransferTask`): the task.
        accuracy (`float`): mean test-fold accuracy (cross-validated tasks) or test accuracy.
        rows (`int`): the rows evaluated (a pair is one row); `texts`: the task's distinct texts; `encoded`: those
            encoded for it (not already encoded for an earlier task of the suite).
        encode_seconds, fit_seconds (`float`): time spent embedding, and fitting and scoring classifiers.
        source (`str`): the file read.
        train_rows (`int`, *optional*): the rows the classifier was fit on, for a task evaluated on splits.
        dev_accuracy (`float`, *optional*): accuracy on `dev` (SST-2). f1 (`float`, *optional*): F1 of the positive
            class on `test` (MRPC).
        fold_accuracies (`tuple[float, ...]`): each test fold's accuracy, for a cross-validated task.
    """

    task: TransferTask
    accuracy: float
    rows: int
    texts: int
    encoded: int
    encode_seconds: float
    fit_seconds: float
    source: str
    train_rows: int | None = None
    dev_accuracy: float | None = None
    f1: float | None = None
    fold_accuracies: tuple[float, ...] = ()

    @property
    def score(self) -> float:
        """The suite's score: accuracy x100."""
        return self.accuracy

    @property
    def texts_per_second(self) -> float:
        """Embedding speed: texts encoded per second of `encode`."""
        return self.encoded / self.encode_seconds if self.encode_seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task.name, "source": self.source, "rows": self.rows, "texts": self.texts,
                "encoded": self.encoded, "train_rows": self.train_rows, "accuracy_x100": self.accuracy,
                "dev_accuracy_x100": self.dev_accuracy, "f1_x100": self.f1,
                "fold_accuracies_x100": list(self.fold_accuracies), "encode_seconds": self.encode_seconds,
                "fit_seconds": self.fit_seconds, "texts_per_second": self.texts_per_second}

    def cells(self) -> tuple:
        return (self.task.name, self.rows, self.texts, self.encoded, self.accuracy, self.f1, self.dev_accuracy,
                self.encode_seconds, self.fit_seconds, self.texts_per_second)

    def eval_results(self, source_url: str | None = None) -> list:
        """Accuracy on test (task type `text-classification`, metric `accuracy`, x100), then SST-2's dev accuracy
        (split `validation`) and MRPC's F1 (metric `f1`). Cross-validated tasks report split `test`: every row is
        tested once, in its fold. The dataset is `senteval-<task>` with no revision: the data is local."""
        fitted = "fit on train" + (f" ({self.train_rows:,} rows)" if self.train_rows is not None else "")
        how = f"mean of {self.task.folds} stratified test folds" if self.task.folds else fitted

        def entry(split: str, metric: str, name: str, value: float):
            return make_eval_result(task_type=EVAL_TASK_TYPE, task_name="Text Classification",
                                    dataset_id=self.task.dataset_id, dataset_name=self.task.name, split=split,
                                    revision=None, metric_type=metric, metric_name=name, value=value,
                                    source_url=source_url)

        results = [entry("test", "accuracy", f"Accuracy x100, {how}", self.accuracy)]
        if self.dev_accuracy is not None:
            results.append(entry("validation", "accuracy", f"Accuracy x100, {how}", self.dev_accuracy))
        if self.f1 is not None:
            results.append(entry("test", "f1", f"F1 x100 of class {self.task.positive_label!r}, {how}", self.f1))
        return results


@dataclass(frozen=True)
class TransferSuiteResult(SuiteResult):
    """The suite's per-task results, their plain average (accuracy x100) and how it was aggregated; `table()`,
    `eval_results(source_url=None)` and `to_dict()` as for the STS suite."""

    title = "Transfer suite"
    score_key = "accuracy_x100"
    columns = (Column("task", 8), Column("rows", 8), Column("texts", 8), Column("encoded", 9),
               Column("accuracy x100", 15, ".2f"),
               Column("F1 x100", 9, ".2f"), Column("dev x100", 10, ".2f"), Column("encode s", 10, ".1f"),
               Column("fit s", 8, ".1f"), Column("texts/s", 9, ".1f"))

    results: tuple[TransferTaskResult, ...]
    aggregation: str = transfer_aggregation()

    @property
    def seconds(self) -> float:
        """Embedding, fitting and scoring, over all tasks (not loading)."""
        return sum(r.encode_seconds + r.fit_seconds for r in self.results)

    def total_cells(self) -> tuple:
        encoded, encode = sum(r.encoded for r in self.results), sum(r.encode_seconds for r in self.results)
        return ("average", sum(r.rows for r in self.results), sum(r.texts for r in self.results), encoded,
                self.average, None, None, encode, sum(r.fit_seconds for r in self.results),
                encoded / encode if encode else 0.0)


def evaluate_transfer_task(model, data: TransferTaskData, batch_size: int = 64, classifier: Any = None,
                           seed: int = 0, max_train_rows: int | None = None, show_progress_bar: bool = False,
                           cache: dict[str, np.ndarray] | None = None) -> TransferTaskResult:
    """One task by the suite's protocol (see the module docstring); `classifier` defaults to `default_classifier()`,
    `max_train_rows` caps the rows a train/test task is fit on (see `evaluate_transfer_suite`), `cache` holds the
    embeddings of texts already encoded (see `embed`)."""
    if max_train_rows is not None and (isinstance(max_train_rows, bool) or not isinstance(max_train_rows, int)
                                       or max_train_rows < 2):
        raise ValueError(f"`max_train_rows` must be a whole number >= 2 or None, got {max_train_rows!r}.")
    classifier = default_classifier() if classifier is None else classifier
    task = data.task
    if max_train_rows is not None:
        data = sample_train_rows(data, max_train_rows, seed)
    texts = data.unique_texts
    start = time.perf_counter()
    embeddings, encoded = embed(model, texts, batch_size, show_progress_bar, cache)
    embedded = time.perf_counter()
    features = row_features(data, embeddings, {text: i for i, text in enumerate(texts)})
    labels = np.asarray(data.labels)
    if task.folds:
        folds = cross_validated_accuracies(classifier, features, labels, task.folds, seed)
        scores: dict[str, Any] = {"accuracy": float(np.mean(folds)), "fold_accuracies": tuple(folds)}
    else:
        scores = {**train_test_scores(classifier, features, labels, data), "train_rows": len(data.rows("train"))}
    result = TransferTaskResult(task=task, rows=len(data.labels), texts=len(texts), encoded=encoded,
                                encode_seconds=embedded - start, fit_seconds=time.perf_counter() - embedded,
                                source=data.source, **scores)
    logger.info(f"Transfer suite {task.name}: accuracy x100 {result.accuracy:.2f} on {result.rows} rows "
                f"({data.source})")
    return result


def evaluate_transfer_data(model, data: Sequence[TransferTaskData], batch_size: int = 64, classifier: Any = None,
                           seed: int = 0, max_train_rows: int | None = None,
                           show_progress_bar: bool = False) -> TransferSuiteResult:
    """`evaluate_transfer_task` on each task's loaded rows (from `load_transfer_suite`)."""
    cache: dict[str, np.ndarray] = {}  # a text in several tasks (MR's sentences are in SST-2 too) is encoded once
    results = tuple(evaluate_transfer_task(model, task_data, batch_size, classifier, seed, max_train_rows,
                                           show_progress_bar, cache) for task_data in data)
    described = DEFAULT_CLASSIFIER if classifier is None else repr(classifier)
    return TransferSuiteResult(results, transfer_aggregation(described, max_train_rows))


def evaluate_transfer_suite(
    model,
    tasks: Sequence[str | TransferTask] | None = None,
    data_dir: str | None = None,
    files: Mapping[str, str] | None = None,
    batch_size: int = 64,
    classifier: Any = None,
    seed: int = 0,
    max_train_rows: int | None = None,
    show_progress_bar: bool = False,
) -> TransferSuiteResult:
    """The SentEval transfer suite: accuracy x100 of a linear classifier on the model's frozen embeddings for MR, CR,
    SUBJ, MPQA, TREC, SST-2 and MRPC (MRPC also F1, SST-2 also dev accuracy), and their average with equal weight per
    task (the protocol is in this module's docstring).

    Args:
        model (`SentenceTransformer`): the model (anything with sentence-transformers' `encode`).
        tasks (`list[str | TransferTask]`, *optional*): task names (`"MR"`, `"SST-2"`, ...; case and punctuation
            ignored) or `TransferTask`s; all of `TRANSFER_TASKS` by default.
        data_dir (`str`, *optional*): a folder with one file per task, named after it (`mr.tsv.gz`, `sst2.tsv`, ...;
            see `transfer_data` for the format).
        files (`dict[str, str]`, *optional*): `{task name: file}`, overriding `data_dir` for those tasks.
        batch_size (`int`, *optional*, defaults to `64`): encoding batch size.
        classifier (scikit-learn estimator, *optional*): instead of `LogisticRegression(C=1.0, max_iter=1000)`;
            cloned for every fit.
        seed (`int`, *optional*, defaults to `0`): the cross-validation shuffle (and the train sample below).
        max_train_rows (`int`, *optional*): fit every classifier on at most this many rows, a stratified sample
            (`sample_train_rows`): a faster, non-standard setting. A train/test task keeps that many train rows
            (its dev and test splits whole); a 10-fold task keeps `max_train_rows * 10 // 9` rows. Encoding is
            most of the suite's time; the README gives the measured times with and without. `None` (default): all
            rows, as in the papers.

    Every task's data is loaded before any encoding, so missing data fails fast. The tasks have no pinned Hub copy:
    without local files, `TaskDataUnavailable` says how to give them.
    """
    data = load_transfer_suite(tasks, data_dir=data_dir, files=files)
    return evaluate_transfer_data(model, data, batch_size, classifier, seed, max_train_rows, show_progress_bar)
