"""The STS suite of Sentence-BERT and SimCSE (STS12-16, STS Benchmark, SICK-R test sets): Spearman of cosine
similarity x100 per task and their equal-weight average, from mteb's Hub datasets at mteb's pinned revisions or from
local files; results convert to the Hub's model-index `EvalResult`s."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import DataError
from ..resources import stsb_path
from .results import Column, SuiteResult, make_eval_result
from .sts import STSEvaluator, is_sts_dataset
from .sts_files import STS_COLUMNS, read_sts_file, score_problem
from .tasks import (NamedTask, TaskDataUnavailable, files_by_task, find_task_file, get_task, hub_split_name,
                    load_hub_split, local_files_hint, resolve_tasks, task_file)

logger = logging.getLogger(__name__)

__all__ = ["STSDataUnavailable", "STSSuiteResult", "STSTask", "STSTaskData", "STSTaskResult", "STS_TASKS",
           "evaluate_sts_data", "evaluate_sts_suite", "evaluate_sts_task", "find_sts_task_file", "get_sts_task",
           "load_sts_suite", "load_sts_task", "load_stsb_sets", "resolve_sts_tasks"]

STS_FILE_EXTENSIONS = (".tsv", ".csv", ".jsonl")
SUITE_AGGREGATION = (
    "Spearman correlation of cosine similarity x100 over all test pairs of each task (SimCSE's 'all' setting; "
    "mteb's test splits), averaged with equal weight per task"
)
EVAL_TASK_TYPE = "sentence-similarity"
EVAL_METRIC_TYPE = "cosine_spearman"  # mteb's name for this metric in model-index metadata, also x100 there
STSDataUnavailable = TaskDataUnavailable  # the STS suite's name for it, from before the transfer suite


@dataclass(frozen=True)
class STSTask(NamedTask):
    """One task of the STS evaluation protocol of Sentence-BERT and SimCSE: its Hub dataset (with `sentence1`,
    `sentence2` and `score` columns), the dataset revision mteb pins, the split evaluated and its gold scale.

    Args:
        name (`str`): the task's name, as in the papers and in mteb (`"STS12"`, `"SICK-R"`).
        hub_id (`str`): the Hub dataset (`None` for data that is only local, e.g. your own file).
        revision (`str`, *optional*): the dataset commit loaded; `None` loads the latest.
        split (`str`, *optional*, defaults to `"test"`): the split evaluated.
        score_range (`tuple[float, float]`, *optional*, defaults to `(0.0, 5.0)`): the gold scale, for reference
            only (a Spearman correlation does not depend on it; files on another scale are accepted).
        aliases (`tuple[str, ...]`, *optional*): other names accepted for the task (case and punctuation ignored).
    """

    name: str
    hub_id: str | None
    revision: str | None = None
    split: str = "test"
    score_range: tuple[float, float] = (0.0, 5.0)
    aliases: tuple[str, ...] = ()


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
# The STS Benchmark splits shipped with the package, as tasks (`hf-contrastive eval` without `--suite`, the demo).
STSB_SPLIT_TASKS = {"dev": STSTask("STS-B dev", STSB_TASK.hub_id, split="validation"),
                    "test": STSTask("STS-B test", STSB_TASK.hub_id, split="test")}


def get_sts_task(name: str | STSTask, tasks: Sequence[STSTask] = STS_TASKS) -> STSTask:
    """The task named `name` among `tasks` (the protocol's seven by default); an `STSTask` is returned as is.
    Raises `ValueError` naming the known tasks for an unknown name."""
    return get_task(name, tasks, "STS")


def resolve_sts_tasks(tasks: Sequence[str | STSTask] | None = None) -> tuple[STSTask, ...]:
    """The tasks to evaluate: all of `STS_TASKS` for `None`, else each name (or `STSTask`) in order, once."""
    return resolve_tasks(tasks, STS_TASKS, "STS")


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
            problem = score_problem(score)
            if problem:
                raise DataError(f"{source} row {row}: `score` {problem}, got {score!r}.")
        return cls(task, tuple(data["sentence1"]), tuple(data["sentence2"]), tuple(float(s) for s in data["score"]),
                   source, revision)


def find_sts_task_file(data_dir: str, task: str | STSTask) -> str:
    """The file of `task` in `data_dir`: named after the task, case and punctuation ignored (`sts12.tsv`,
    `STSBenchmark.csv`, `sick-r.jsonl`, `sickr.tsv.gz`), with a `.tsv`, `.csv` or `.jsonl` extension, optionally
    gzipped. Raises `FileNotFoundError` when the folder or the file is missing, `ValueError` when several files match.
    """
    return find_task_file(data_dir, get_sts_task(task), STS_FILE_EXTENSIONS, "STS")


def _shipped_stsb(task: STSTask, split: str, pairs: int | None = None) -> STSTaskData:
    """An STS Benchmark split as shipped in the package (sentence-transformers' `stsbenchmark.tsv.gz` rows), its
    first `pairs` pairs when given."""
    columns = read_sts_file(stsb_path(), split=split)
    columns = {name: values[:pairs] for name, values in columns.items()} if pairs else columns
    return STSTaskData.from_columns(task, columns, source=f"shipped STS-B {split} ({os.path.basename(stsb_path())})")


def _load_from_hub(task: STSTask) -> STSTaskData:
    """A task's split from the Hub at its pinned revision; STS Benchmark falls back to the shipped test split."""
    hint = local_files_hint(task, "--sts-dir", STS_FILE_EXTENSIONS, "sentence1, sentence2 and score columns")
    if task.hub_id is None:
        raise TaskDataUnavailable(f"{task.name}: no Hub dataset is known for this task; point to local copies: {hint}.")
    where = hub_split_name(task.hub_id, task.revision, task.split)
    try:
        dataset = load_hub_split(task, task.hub_id, task.revision, task.split, hint)
    except TaskDataUnavailable as error:
        if task.hub_id == STSB_TASK.hub_id and task.split == "test":
            logger.warning(f"{task.name}: {where} could not be loaded ({error.__cause__}); using the shipped STS-B "
                           f"test split.")
            return _shipped_stsb(task, "test")
        raise
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
    file = task_file(task, data_dir, file, STS_FILE_EXTENSIONS, "STS")
    if file is not None:
        return STSTaskData.from_columns(task, read_sts_file(file), source=file)
    return _load_from_hub(task)


def load_sts_suite(
    tasks: Sequence[str | STSTask] | None = None,
    data_dir: str | None = None,
    files: Mapping[str, str] | None = None,
) -> tuple[STSTaskData, ...]:
    """Every selected task's pairs (see `evaluate_sts_suite` for the arguments and `load_sts_task` for the order
    in which sources are tried)."""
    selected = resolve_sts_tasks(tasks)
    paths = files_by_task(files or {}, selected, "STS")
    return tuple(load_sts_task(task, data_dir=data_dir, file=paths.get(task.name)) for task in selected)


def load_stsb_sets(splits: Sequence[str] = ("dev", "test"), files: Sequence[str] = (),
                   pairs: int | None = None) -> tuple[STSTaskData, ...]:
    """The shipped STS Benchmark `splits` (tasks `STS-B dev`, `STS-B test`; their first `pairs` pairs when given),
    then each STS file in `files` as a task named after the file (see `read_sts_file`)."""
    shipped = tuple(_shipped_stsb(STSB_SPLIT_TASKS[split], split, pairs) for split in splits)
    return shipped + tuple(STSTaskData.from_columns(STSTask(os.path.basename(path), None), read_sts_file(path),
                                                    source=path) for path in files)


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
    def score(self) -> float:
        """The suite's score: Spearman x100."""
        return self.spearman

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task.name, "hub_id": self.task.hub_id, "split": self.task.split,
                "revision": self.revision, "source": self.source, "pairs": self.pairs,
                "spearman_cosine_x100": self.spearman, "pearson_cosine_x100": self.pearson,
                "seconds": self.seconds, "pairs_per_second": self.pairs_per_second}

    def cells(self) -> tuple:
        return self.task.name, self.pairs, self.spearman, self.pairs_per_second

    def eval_result(self, source_url: str | None = None):
        """This score as a `huggingface_hub.EvalResult` (model-index metadata of a model card)."""
        return make_eval_result(
            task_type=EVAL_TASK_TYPE, task_name="Semantic Textual Similarity",
            dataset_id=self.task.hub_id or self.task.name, dataset_name=self.task.name, split=self.task.split,
            revision=self.revision, metric_type=EVAL_METRIC_TYPE,
            metric_name="Spearman correlation of cosine similarity x100", value=self.spearman, source_url=source_url,
        )

    def eval_results(self, source_url: str | None = None) -> list:
        return [self.eval_result(source_url)]


@dataclass(frozen=True)
class STSSuiteResult(SuiteResult):
    """The suite's per-task results, their plain average and how it was aggregated.

    `eval_results(source_url=None)` gives one `huggingface_hub.EvalResult` per task (task type
    `sentence-similarity`, the task's Hub id, name, split and revision — `None` for local data —, metric
    `cosine_spearman` x100 as mteb writes it); `table()` the printed table; `to_dict()` everything, for JSON."""

    title = "STS suite"
    score_key = "spearman_cosine_x100"
    columns = (Column("task", 14), Column("pairs", 8), Column("Spearman x100", 16, ".2f"), Column("pairs/s", 12, ".1f"))

    results: tuple[STSTaskResult, ...]
    aggregation: str = SUITE_AGGREGATION

    def total_cells(self) -> tuple:
        pairs, seconds = sum(r.pairs for r in self.results), sum(r.seconds for r in self.results)
        return "average", pairs, self.average, pairs / seconds if seconds else 0.0


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


def evaluate_sts_data(model, data: Sequence[STSTaskData], batch_size: int = 64,
                      show_progress_bar: bool = False) -> STSSuiteResult:
    """`evaluate_sts_task` on each task's loaded pairs (from `load_sts_suite` or `load_stsb_sets`)."""
    return STSSuiteResult(tuple(evaluate_sts_task(model, task_data, batch_size, show_progress_bar)
                                for task_data in data))


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
    return evaluate_sts_data(model, load_sts_suite(tasks, data_dir=data_dir, files=files), batch_size,
                             show_progress_bar)
