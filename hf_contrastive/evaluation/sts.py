"""Semantic textual similarity: Spearman/Pearson of cosine similarity against gold scores, as a training evaluator
(STS-B dev for best-checkpoint selection) and after training, and the paper-protocol suite (STS12-16, STS Benchmark,
SICK-R) with results that convert to the Hub's model-index `EvalResult`s."""

from __future__ import annotations

import csv
import gzip
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sentence_transformers.base.evaluation import BaseEvaluator

from ..errors import DataError
from ..resources import stsb_path

logger = logging.getLogger(__name__)

STS_COLUMNS = ("sentence1", "sentence2", "score")
STSB_SPLITS = ("dev", "test")


def is_sts_dataset(dataset: Any) -> bool:
    """Whether `dataset` has the `sentence1`, `sentence2`, `score` columns of an STS set."""
    return set(STS_COLUMNS) <= set(getattr(dataset, "column_names", None) or ())


def _open_text(path: str):
    return gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path, encoding="utf-8")


def _score_problem(value: Any) -> str | None:
    """Why `value` is not a gold score (a finite number, or a string of one), or `None` when it is one."""
    try:
        if isinstance(value, bool):
            raise TypeError
        score = float(value)
    except (TypeError, ValueError):
        return "must be a number"
    return None if np.isfinite(score) else "must be finite"


def _parse_score(value: Any, path: str, line: int) -> float:
    problem = _score_problem(value)
    if problem:
        raise DataError(f"{path}, line {line}: `score` {problem}, got {value!r}.")
    return float(value)


def read_sts_file(path: str, split: str | None = None) -> dict[str, list]:
    """Read an STS file into `{"sentence1": [...], "sentence2": [...], "score": [...]}`.

    Accepts TSV (`.tsv`, tab-separated, no quoting, as STS-B's own files), CSV (`.csv`) or JSON lines (`.jsonl`),
    optionally gzipped, with a header naming `sentence1`, `sentence2` and `score` columns (other columns are
    ignored). With `split`, keeps only rows whose `split` column equals it (sentence-transformers'
    `stsbenchmark.tsv.gz` layout). Raises `DataError` naming the file, line, field and value for malformed rows.
    Scores may be on any scale (STS-B's 0-5, SICK-R's 1-5, ...): a Spearman correlation does not depend on it.
    """
    import json

    name = path[:-3] if path.endswith(".gz") else path
    rows: list[tuple[int, dict]] = []
    with _open_text(path) as f:
        if name.endswith(".jsonl"):
            for line_number, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as error:
                        raise DataError(f"{path}, line {line_number}: not valid JSON ({error.msg}).") from None
                    if not isinstance(row, dict):
                        raise DataError(f"{path}, line {line_number}: expected a JSON object with "
                                        f"{', '.join(STS_COLUMNS)}, got {type(row).__name__}.")
                    rows.append((line_number, row))
        else:
            dialect = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if name.endswith(".tsv") else {}
            reader = csv.DictReader(f, **dialect)
            missing = [c for c in STS_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: missing column(s) {missing}; the header is {reader.fieldnames}.")
            rows = [(reader.line_num, row) for row in reader]
    data: dict[str, list] = {column: [] for column in STS_COLUMNS}
    for line_number, row in rows:
        if split is not None and row.get("split") != split:
            continue
        for column in ("sentence1", "sentence2"):
            if not isinstance(row.get(column), str):
                raise DataError(f"{path}, line {line_number}: `{column}` must be a string, got {row.get(column)!r}.")
        data["sentence1"].append(row["sentence1"])
        data["sentence2"].append(row["sentence2"])
        data["score"].append(_parse_score(row.get("score"), path, line_number))
    if not data["score"]:
        where = f" with split {split!r}" if split is not None else ""
        raise DataError(f"{path}: no STS pairs{where}.")
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
            problem = _score_problem(score)
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


# The paper-protocol STS suite ---------------------------------------------------------------------------------------

STS_FILE_EXTENSIONS = (".tsv", ".csv", ".jsonl")
SUITE_AGGREGATION = (
    "Spearman correlation of cosine similarity x100 over all test pairs of each task (SimCSE's 'all' setting; "
    "mteb's test splits), averaged with equal weight per task"
)
EVAL_TASK_TYPE = "sentence-similarity"
EVAL_METRIC_TYPE = "cosine_spearman"  # mteb's name for this metric in model-index metadata, also x100 there
EVAL_SOURCE_NAME = "hf_contrastive"


def _normalize_name(name: str) -> str:
    """`"SICK-R"`, `"sick_r"` and `"sickr"` alike: lower case, letters and digits only."""
    return "".join(character for character in name.lower() if character.isalnum())


@dataclass(frozen=True)
class STSTask:
    """One task of the STS evaluation protocol of Sentence-BERT and SimCSE: its Hub dataset (with `sentence1`,
    `sentence2` and `score` columns), the dataset revision mteb pins, the split evaluated and its gold scale.

    Args:
        name (`str`): the task's name, as in the papers and in mteb (`"STS12"`, `"SICK-R"`).
        hub_id (`str`): the Hub dataset.
        revision (`str`, *optional*): the dataset commit loaded; `None` loads the latest.
        split (`str`, *optional*, defaults to `"test"`): the split evaluated.
        score_range (`tuple[float, float]`, *optional*, defaults to `(0.0, 5.0)`): the gold scale, for reference
            only (a Spearman correlation does not depend on it; files on another scale are accepted).
        aliases (`tuple[str, ...]`, *optional*): other names accepted for the task (case and punctuation ignored).
    """

    name: str
    hub_id: str
    revision: str | None = None
    split: str = "test"
    score_range: tuple[float, float] = (0.0, 5.0)
    aliases: tuple[str, ...] = ()

    @property
    def file_stem(self) -> str:
        """The name of the task's file in a data directory, before its extension: `sts12`, `stsbenchmark`, `sickr`."""
        return _normalize_name(self.name)

    def matches(self, name: str) -> bool:
        """Whether `name` names this task (its name or an alias; case and punctuation ignored)."""
        return _normalize_name(name) in {_normalize_name(n) for n in (self.name, *self.aliases)}


# Revisions: the `dataset.revision` of each task's `TaskMetadata` in mteb (mteb/tasks/sts/eng/*.py of mteb 2.26.24;
# the same hashes in embeddings-benchmark/mteb's older mteb/tasks/STS/eng/*.py).
STS_TASKS: tuple[STSTask, ...] = (
    STSTask("STS12", "mteb/sts12-sts", "a0d554a64d88156834ff5ae9920b964011b16384"),
    STSTask("STS13", "mteb/sts13-sts", "7e90230a92c190f1bf69ae9002b8cea547a64cca"),
    STSTask("STS14", "mteb/sts14-sts", "6031580fec1f6af667f0bd2da0a551cf4f0b2375"),
    STSTask("STS15", "mteb/sts15-sts", "ae752c7c21bf194d8b67fd573edf7ae58183cbe3"),
    STSTask("STS16", "mteb/sts16-sts", "4d8694f8f0e0100860b497b999b3dbed754a0513"),
    STSTask("STSBenchmark", "mteb/stsbenchmark-sts", "b0fddb56ed78048fa8b90373c8a3cfc37b684831", aliases=("STS-B",)),
    # SICK relatedness is rated on 1-5 (mteb declares 0-5; only its normalisation uses the bounds).
    STSTask("SICK-R", "mteb/sickr-sts", "20a6d6f312dd54037fe07a32d58e5e168867909d", score_range=(1.0, 5.0)),
)
STSB_TASK = STS_TASKS[5]


class STSDataUnavailable(OSError):
    """A task's data could not be loaded from the Hub (offline, unreachable, no access), and no local copy was given."""


def get_sts_task(name: str | STSTask, tasks: Sequence[STSTask] = STS_TASKS) -> STSTask:
    """The task named `name` among `tasks` (the protocol's seven by default); an `STSTask` is returned as is.
    Raises `ValueError` naming the known tasks for an unknown name."""
    if isinstance(name, STSTask):
        return name
    for task in tasks:
        if task.matches(name):
            return task
    raise ValueError(f"Unknown STS task {name!r}; the known tasks are {', '.join(t.name for t in tasks)}.")


def resolve_sts_tasks(tasks: Sequence[str | STSTask] | None = None) -> tuple[STSTask, ...]:
    """The tasks to evaluate: all of `STS_TASKS` for `None`, else each name (or `STSTask`) in order, once."""
    if tasks is None:
        return STS_TASKS
    if isinstance(tasks, (str, STSTask)):
        tasks = [tasks]
    resolved = tuple(get_sts_task(task) for task in tasks)
    if not resolved:
        raise ValueError(f"No STS task selected; choose among {', '.join(t.name for t in STS_TASKS)}.")
    names = [task.name for task in resolved]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"STS task(s) {repeated} selected more than once.")
    return resolved


@dataclass(frozen=True)
class STSTaskData:
    """A task's pairs and where they came from.

    Args:
        task (`STSTask`): the task.
        sentence1, sentence2 (`tuple[str, ...]`): the pairs.
        score (`tuple[float, ...]`): their gold similarity.
        source (`str`): where the pairs were read (a Hub dataset with its revision and split, a file, or the shipped
            STS-B copy).
        revision (`str`, *optional*): the Hub revision loaded, `None` for local data.
    """

    task: STSTask
    sentence1: tuple[str, ...]
    sentence2: tuple[str, ...]
    score: tuple[float, ...]
    source: str
    revision: str | None = None

    def __post_init__(self):
        if not (len(self.sentence1) == len(self.sentence2) == len(self.score)):
            raise DataError(f"{self.source}: STS pairs need equal lengths: {len(self.sentence1)} sentence1, "
                            f"{len(self.sentence2)} sentence2, {len(self.score)} scores.")
        if len(self.score) < 2:
            raise DataError(f"{self.source}: {self.task.name} needs at least 2 pairs, got {len(self.score)}.")
        if min(self.score) == max(self.score):
            raise DataError(f"{self.source}: `score` is {self.score[0]} for all {len(self.score)} pairs of "
                            f"{self.task.name}: a Spearman correlation with constant gold scores is undefined.")

    @classmethod
    def from_columns(cls, task: STSTask, data: Mapping[str, Sequence], source: str,
                     revision: str | None = None) -> STSTaskData:
        """From `{"sentence1": [...], "sentence2": [...], "score": [...]}` (what `read_sts_file` returns)."""
        for row, score in enumerate(data["score"]):
            problem = _score_problem(score)
            if problem:
                raise DataError(f"{source} row {row}: `score` {problem}, got {score!r}.")
        return cls(task, tuple(data["sentence1"]), tuple(data["sentence2"]), tuple(float(s) for s in data["score"]),
                   source, revision)


def _split_sts_file_name(file_name: str) -> tuple[str, str] | None:
    """`("STS12", ".tsv")` for `STS12.tsv.gz`; `None` for a name without an STS extension."""
    base = file_name[:-3] if file_name.lower().endswith(".gz") else file_name
    stem, extension = os.path.splitext(base)
    return (stem, extension.lower()) if extension.lower() in STS_FILE_EXTENSIONS else None


def find_sts_task_file(data_dir: str, task: str | STSTask) -> str:
    """The file of `task` in `data_dir`: named after the task, case and punctuation ignored (`sts12.tsv`,
    `STSBenchmark.csv`, `sick-r.jsonl`, `sickr.tsv.gz`), with a `.tsv`, `.csv` or `.jsonl` extension, optionally
    gzipped. Raises `FileNotFoundError` when the folder or the file is missing, `ValueError` when several files match.
    """
    task = get_sts_task(task)
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"{data_dir}: no such directory (it should hold one STS file per task, e.g. "
                                f"{STS_TASKS[0].file_stem}.tsv).")
    candidates = [(name, _split_sts_file_name(name)) for name in sorted(os.listdir(data_dir))]
    sts_files = [name for name, parts in candidates if parts is not None]
    matches = [name for name, parts in candidates if parts is not None and task.matches(parts[0])]
    if not matches:
        raise FileNotFoundError(
            f"{data_dir}: no file for {task.name}; expected {task.file_stem}.tsv, .csv or .jsonl (optionally .gz; "
            f"case and punctuation in the name are ignored). STS files there: {sts_files or 'none'}."
        )
    if len(matches) > 1:
        raise ValueError(f"{data_dir}: several files for {task.name}: {matches}; keep one.")
    return os.path.join(data_dir, matches[0])


def _load_shipped_stsb_test(task: STSTask) -> STSTaskData:
    """STS Benchmark test as shipped in the package (sentence-transformers' `stsbenchmark.tsv.gz` test rows)."""
    return STSTaskData.from_columns(task, read_sts_file(stsb_path(), split="test"),
                                    source=f"shipped STS-B test ({os.path.basename(stsb_path())})")


def _load_from_hub(task: STSTask) -> STSTaskData:
    """A task's split from the Hub at its pinned revision; STS Benchmark falls back to the shipped test split."""
    from datasets import load_dataset

    where = f"{task.hub_id} (revision {task.revision or 'latest'}, split {task.split})"
    try:
        dataset = load_dataset(task.hub_id, revision=task.revision, split=task.split)
    except Exception as error:  # datasets raises many types here: offline, unreachable, gated, missing split...
        if task.hub_id == STSB_TASK.hub_id and task.split == "test":
            logger.warning(f"{task.name}: {where} could not be loaded ({error}); using the shipped STS-B test split.")
            return _load_shipped_stsb_test(task)
        raise STSDataUnavailable(
            f"{task.name}: cannot load {where} from the Hub ({type(error).__name__}: {error}). Offline, point to "
            f"local copies: `data_dir` (`--sts-dir DIR` on the command line), a folder with one file per task named "
            f"after it (here {task.file_stem}.tsv, .csv or .jsonl, optionally .gz, with sentence1, sentence2 and "
            f"score columns), or `files={{{task.name!r}: PATH}}`."
        ) from error
    if not is_sts_dataset(dataset):
        raise DataError(f"{where}: missing column(s) {[c for c in STS_COLUMNS if c not in dataset.column_names]}; "
                        f"it has {dataset.column_names}.")
    return STSTaskData.from_columns(task, dataset.select_columns(list(STS_COLUMNS)).to_dict(),
                                    source=f"{where} on the Hub", revision=task.revision)


def load_sts_task(task: str | STSTask, data_dir: str | None = None, file: str | None = None) -> STSTaskData:
    """A task's pairs, from the first of: `file` (TSV/CSV/JSONL, optionally gzipped, with `sentence1`, `sentence2`
    and `score` columns; see `read_sts_file`), the task's file in `data_dir` (see `find_sts_task_file`), or the Hub
    (the task's dataset at its pinned revision). Offline, STS Benchmark falls back to its test split shipped with
    the package (the same 1,379 pairs); the other tasks raise `STSDataUnavailable` saying how to give local files.
    """
    task = get_sts_task(task)
    if file is None and data_dir is not None:
        file = find_sts_task_file(data_dir, task)
    if file is not None:
        return STSTaskData.from_columns(task, read_sts_file(file), source=file)
    return _load_from_hub(task)


@dataclass(frozen=True)
class STSTaskResult:
    """One task's scores: Spearman and Pearson of cosine similarity x100, with its size, time and data source."""

    task: STSTask
    spearman: float
    pearson: float
    pairs: int
    seconds: float
    source: str
    revision: str | None = None

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task.name, "hub_id": self.task.hub_id, "split": self.task.split,
                "revision": self.revision, "source": self.source, "pairs": self.pairs,
                "spearman_cosine_x100": self.spearman, "pearson_cosine_x100": self.pearson,
                "seconds": self.seconds, "pairs_per_second": self.pairs_per_second}

    def eval_result(self, source_url: str | None = None):
        """This score as a `huggingface_hub.EvalResult` (model-index metadata of a model card)."""
        from huggingface_hub import EvalResult

        source = {"source_name": EVAL_SOURCE_NAME, "source_url": source_url} if source_url else {}
        return EvalResult(
            task_type=EVAL_TASK_TYPE, task_name="Semantic Textual Similarity", dataset_type=self.task.hub_id,
            dataset_name=self.task.name, dataset_split=self.task.split, dataset_revision=self.revision,
            metric_type=EVAL_METRIC_TYPE, metric_name="Spearman correlation of cosine similarity x100",
            metric_value=round(self.spearman, 4), **source,
        )


@dataclass(frozen=True)
class STSSuiteResult:
    """The suite's per-task results, their plain average and how it was aggregated."""

    results: tuple[STSTaskResult, ...]
    aggregation: str = SUITE_AGGREGATION

    @property
    def average(self) -> float:
        """Mean of the tasks' Spearman x100, each task weighted equally."""
        return float(np.mean([result.spearman for result in self.results]))

    @property
    def scores(self) -> dict[str, float]:
        """`{task name: Spearman x100}`."""
        return {result.task.name: result.spearman for result in self.results}

    def to_dict(self) -> dict[str, Any]:
        return {"aggregation": self.aggregation, "average_spearman_cosine_x100": self.average,
                "tasks": [result.to_dict() for result in self.results]}

    def eval_results(self, source_url: str | None = None) -> list:
        """One `huggingface_hub.EvalResult` per task (task type `sentence-similarity`, the task's Hub id, name,
        split and revision — `None` for local data —, metric `cosine_spearman` x100 as mteb writes it), for
        `ModelCardData(eval_results=...)`. The source is named `hf_contrastive` when `source_url` is given (the Hub
        requires a URL with a source name: e.g. the model's page). The average is not an `EvalResult`: it belongs
        to no single dataset."""
        return [result.eval_result(source_url) for result in self.results]

    def table(self) -> str:
        """A plain-text table: task, pairs, Spearman x100, pairs/s, then the average and the aggregation."""
        lines = [f"{'task':<14}{'pairs':>8}{'Spearman x100':>16}{'pairs/s':>12}"]
        for result in self.results:
            lines.append(f"{result.task.name:<14}{result.pairs:>8}{result.spearman:>16.2f}"
                         f"{result.pairs_per_second:>12.1f}")
        pairs, seconds = sum(r.pairs for r in self.results), sum(r.seconds for r in self.results)
        lines.append(f"{'average':<14}{pairs:>8}{self.average:>16.2f}{pairs / seconds if seconds else 0:>12.1f}")
        lines.append(f"Aggregation: {self.aggregation}.")
        return "\n".join(lines)


def evaluate_sts_task(model, data: STSTaskData, batch_size: int = 64, show_progress_bar: bool = False) -> STSTaskResult:
    """Spearman and Pearson of cosine similarity x100 on one task's pairs (each distinct sentence encoded once, by
    `STSEvaluator`); `seconds` covers encoding and scoring, not loading."""
    name = data.task.name
    evaluator = STSEvaluator(list(data.sentence1), list(data.sentence2), list(data.score), name=name,
                             batch_size=batch_size, show_progress_bar=show_progress_bar)
    start = time.perf_counter()
    metrics = evaluator.compute_metrics(model)
    seconds = time.perf_counter() - start
    logger.info(f"STS suite {name}: Spearman x100 {100 * metrics[f'{name}_spearman_cosine']:.2f} on "
                f"{len(data.score)} pairs ({data.source})")
    return STSTaskResult(task=data.task, spearman=100 * metrics[f"{name}_spearman_cosine"],
                         pearson=100 * metrics[f"{name}_pearson_cosine"], pairs=len(data.score), seconds=seconds,
                         source=data.source, revision=data.revision)


def _files_by_task(files: Mapping[str, str], tasks: Sequence[STSTask]) -> dict[str, str]:
    """`files` keyed by the canonical names of `tasks`; a name outside them is an error."""
    by_task = {}
    for name, path in files.items():
        try:
            task = get_sts_task(name, tasks)
        except ValueError:
            raise ValueError(f"`files` names {name!r}, which is not among the tasks evaluated "
                             f"({', '.join(t.name for t in tasks)}).") from None
        by_task[task.name] = path
    return by_task


def load_sts_suite(
    tasks: Sequence[str | STSTask] | None = None,
    data_dir: str | None = None,
    files: Mapping[str, str] | None = None,
) -> tuple[STSTaskData, ...]:
    """Every selected task's pairs (see `evaluate_sts_suite` for the arguments and `load_sts_task` for the order
    in which sources are tried)."""
    selected = resolve_sts_tasks(tasks)
    paths = _files_by_task(files or {}, selected)
    return tuple(load_sts_task(task, data_dir=data_dir, file=paths.get(task.name)) for task in selected)


def evaluate_sts_suite(
    model,
    tasks: Sequence[str | STSTask] | None = None,
    data_dir: str | None = None,
    files: Mapping[str, str] | None = None,
    batch_size: int = 64,
    show_progress_bar: bool = False,
) -> STSSuiteResult:
    """The STS suite of Sentence-BERT / SimCSE: Spearman of cosine similarity x100 on each task's test pairs, and
    their average with equal weight per task.

    Args:
        model (`SentenceTransformer`): the model (anything with sentence-transformers' `encode`).
        tasks (`list[str | STSTask]`, *optional*): task names (`"STS12"`, `"SICK-R"`, ...; case and punctuation
            ignored) or `STSTask`s; all of `STS_TASKS` by default.
        data_dir (`str`, *optional*): a folder with one file per task, named after it (see `find_sts_task_file`).
        files (`dict[str, str]`, *optional*): `{task name: file}`, overriding `data_dir` for those tasks.
        batch_size (`int`, *optional*, defaults to `64`): encoding batch size.

    Every task's data is loaded (see `load_sts_task`) before any encoding, so missing data fails fast.
    """
    data = load_sts_suite(tasks, data_dir=data_dir, files=files)
    return STSSuiteResult(tuple(evaluate_sts_task(model, task_data, batch_size, show_progress_bar)
                                for task_data in data))
