"""The SentEval transfer tasks (MR, CR, SUBJ, MPQA, TREC, SST-2, MRPC): the task table and their data, read from
local files in SentEval's shared format — UTF-8, tab-separated, a header, no quoting, optionally gzipped, one file
per task named after it (`mr.tsv.gz`, ..., `sst2.tsv.gz`, `mrpc.tsv.gz`; the repository's
`benchmarks/data/senteval/` holds them, with their sources and terms in its SOURCE.md).

No Hub copy is pinned: mteb (2.26) has none of these tasks, and SetFit's copies (`SetFit/SentEval-CR`, `SetFit/subj`,
`SetFit/sst2`, ...) are re-split into train/test, sentence-level for SST-2, and loaded without a revision. So every
task is local-only, and a task without a local file raises `TaskDataUnavailable` saying how to give one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import DataError
from .tasks import NamedTask, TaskDataUnavailable, files_by_task, get_task, local_files_hint, open_text, resolve_tasks
from .tasks import task_file as local_task_file

TRANSFER_FILE_EXTENSIONS = (".tsv",)
BINARY = ("0", "1")


@dataclass(frozen=True)
class TransferTask(NamedTask):
    """One SentEval transfer task: a classification of frozen sentence embeddings.

    Args:
        name (`str`): the task's name, as in SentEval (`"MR"`, `"SST-2"`); its file is named after it (`mr.tsv.gz`).
        labels (`tuple[str, ...]`): the classes as written in the file's `label` column; their order gives the
            class ids.
        folds (`int`, *optional*): evaluated by stratified k-fold cross-validation over all rows, with this many
            folds (MR, CR, SUBJ, MPQA: 10); the file has no `split` column.
        splits (`tuple[str, ...]`, *optional*): else the values of the file's `split` column: the classifier is fit
            on `train`, scored on `test` (and on `dev` when listed).
        text_columns (`tuple[str, ...]`, *optional*, defaults to `("text",)`): one text per row, or two for a
            sentence-pair task (MRPC: `sentence1`, `sentence2`; features `[u, v, |u - v|, u * v]`).
        positive_label (`str`, *optional*): the class whose F1 is reported too (MRPC: `"1"`, paraphrase).
        allow_empty_texts (`bool`, *optional*, defaults to `False`): whether a text may be empty. SentEval keeps the
            blank lines of its MR/CR/SUBJ/MPQA files (CR has 4, MPQA 3) in its counts, so those tasks allow them:
            an empty text is embedded as the empty string, like any other row.
        aliases (`tuple[str, ...]`, *optional*): other names accepted for the task (case and punctuation ignored).
    """

    name: str
    labels: tuple[str, ...]
    folds: int | None = None
    splits: tuple[str, ...] = ()
    text_columns: tuple[str, ...] = ("text",)
    positive_label: str | None = None
    allow_empty_texts: bool = False
    aliases: tuple[str, ...] = ()

    def __post_init__(self):
        if (self.folds is None) == (not self.splits):
            raise ValueError(f"{self.name}: give either `folds` (cross-validation) or `splits` (with 'train' and "
                             f"'test'), got folds={self.folds!r}, splits={self.splits!r}.")
        if self.splits and not {"train", "test"} <= set(self.splits):
            raise ValueError(f"{self.name}: `splits` must include 'train' and 'test', got {self.splits!r}.")
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"{self.name}: `labels` must be 2 or more distinct classes, got {self.labels!r}.")
        if self.positive_label is not None and self.positive_label not in self.labels:
            raise ValueError(f"{self.name}: `positive_label` {self.positive_label!r} is not among {self.labels!r}.")

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns its file needs."""
        return (("split",) if self.splits else ()) + self.text_columns + ("label",)

    @property
    def dataset_id(self) -> str:
        """The dataset named in model-index metadata: `senteval-mr`, ... (SentEval's data, on no pinned Hub dataset)."""
        return f"senteval-{self.file_stem}"


# SentEval's seven classification tasks (senteval/{binary,mpqa,trec,sst,mrpc}.py), with its evaluation splits.
TRANSFER_TASKS: tuple[TransferTask, ...] = (
    TransferTask("MR", BINARY, folds=10, allow_empty_texts=True),
    TransferTask("CR", BINARY, folds=10, allow_empty_texts=True),
    TransferTask("SUBJ", BINARY, folds=10, allow_empty_texts=True),
    TransferTask("MPQA", BINARY, folds=10, allow_empty_texts=True),
    TransferTask("TREC", ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"), splits=("train", "test")),
    TransferTask("SST-2", BINARY, splits=("train", "dev", "test")),
    TransferTask("MRPC", BINARY, splits=("train", "test"), text_columns=("sentence1", "sentence2"), positive_label="1"),
)


def get_transfer_task(name: str | TransferTask, tasks: Sequence[TransferTask] = TRANSFER_TASKS) -> TransferTask:
    """The task named `name` among `tasks` (SentEval's seven by default); a `TransferTask` is returned as is."""
    return get_task(name, tasks, "transfer")


def resolve_transfer_tasks(tasks: Sequence[str | TransferTask] | None = None) -> tuple[TransferTask, ...]:
    """The tasks to evaluate: all of `TRANSFER_TASKS` for `None`, else each name (or task) in order, once."""
    return resolve_tasks(tasks, TRANSFER_TASKS, "transfer")


@dataclass(frozen=True)
class TransferTaskData:
    """A task's rows and where they came from.

    Args:
        task (`TransferTask`): the task.
        texts (`tuple[tuple[str, ...], ...]`): each row's text (or its two texts, for a pair task).
        labels (`tuple[int, ...]`): each row's class id (its index in `task.labels`).
        splits (`tuple[str, ...]`): each row's split, for a task evaluated on splits; empty for cross-validation.
        source (`str`): the file read.
    """

    task: TransferTask
    texts: tuple[tuple[str, ...], ...]
    labels: tuple[int, ...]
    splits: tuple[str, ...]
    source: str

    def __post_init__(self):
        task, source = self.task, self.source
        if not self.labels:
            raise DataError(f"{source}: no rows for {task.name}.")
        if task.folds is not None:
            counts = Counter(self.labels)
            small = {task.labels[label]: counts[label] for label in range(len(task.labels))
                     if counts[label] < task.folds}
            if small:
                raise DataError(f"{source}: {task.name} is evaluated by {task.folds}-fold stratified "
                                f"cross-validation, which needs at least {task.folds} rows of each class; it has "
                                f"{small}.")
        for split in task.splits:
            classes = {label for label, where in zip(self.labels, self.splits) if where == split}
            if not classes:
                raise DataError(f"{source}: no `{split}` rows for {task.name} (its splits are {task.splits}).")
            if split == "train" and len(classes) < 2:
                raise DataError(f"{source}: the `train` rows of {task.name} are all of class "
                                f"{task.labels[classes.pop()]!r}; a classifier needs two classes or more.")

    def rows(self, split: str) -> list[int]:
        """The indices of the rows of `split`."""
        return [row for row, where in enumerate(self.splits) if where == split]

    @property
    def unique_texts(self) -> list[str]:
        """Every distinct text of the task, in first-seen order: what is embedded, once each."""
        return list(dict.fromkeys(text for row in self.texts for text in row))


def _parse_line(path: str, line_number: int, fields: list[str], header: list[str], task: TransferTask,
                at: dict[str, int]) -> tuple[tuple[str, ...], int, str]:
    """One data line's `(texts, class id, split)`; a `DataError` names the file, line, field and value."""
    if len(fields) != len(header):
        raise DataError(f"{path}, line {line_number}: {len(fields)} tab-separated field(s), the header has "
                        f"{len(header)} ({', '.join(header)}); got {chr(9).join(fields)!r}.")
    label = fields[at["label"]]
    if label not in task.labels:
        raise DataError(f"{path}, line {line_number}: `label` must be one of {', '.join(task.labels)} for "
                        f"{task.name}, got {label!r}.")
    split = fields[at["split"]] if task.splits else ""
    if task.splits and split not in task.splits:
        raise DataError(f"{path}, line {line_number}: `split` must be one of {', '.join(task.splits)} for "
                        f"{task.name}, got {split!r}.")
    texts = tuple(fields[at[column]] for column in task.text_columns)
    for column, text in zip(task.text_columns, texts):
        if not task.allow_empty_texts and not text.strip():
            raise DataError(f"{path}, line {line_number}: `{column}` is empty ({task.name} allows no empty "
                            f"texts), got {text!r}.")
    return texts, task.labels.index(label), split


def read_transfer_file(path: str, task: str | TransferTask) -> TransferTaskData:
    """A task's file in SentEval's shared format: UTF-8, tab-separated with no quoting (fields are split on tabs, texts
    kept verbatim), optionally gzipped, a header naming the task's columns (`text` or `sentence1`/`sentence2`,
    `label`, and `split` for a task evaluated on splits; other columns are ignored). Raises `DataError` naming the
    file, line, field and value for a missing column, a label or split that is not one of the task's, a line with
    the wrong number of fields, or an empty text where the task allows none."""
    task = get_transfer_task(task)
    texts, labels, splits = [], [], []
    with open_text(path, newline="") as f:
        header = f.readline().rstrip("\r\n").split("\t")
        missing = [column for column in task.columns if column not in header]
        if missing:
            raise DataError(f"{path}: missing column(s) {missing} for {task.name}; the header is {header}.")
        at = {column: header.index(column) for column in task.columns}
        for line_number, line in enumerate(f, start=2):
            row_texts, label, split = _parse_line(path, line_number, line.rstrip("\r\n").split("\t"), header, task,
                                                  at)
            texts.append(row_texts)
            labels.append(label)
            splits.append(split)
    return TransferTaskData(task, tuple(texts), tuple(labels), tuple(splits) if task.splits else (), source=path)


def load_transfer_task(task: str | TransferTask, data_dir: str | None = None,
                       file: str | None = None) -> TransferTaskData:
    """A task's rows from `file`, else from its file in `data_dir` (`mr.tsv`, `SST-2.tsv.gz`, ...: named after the
    task, case and punctuation ignored); without either, `TaskDataUnavailable` says how to give them."""
    task = get_transfer_task(task)
    file = local_task_file(task, data_dir, file, TRANSFER_FILE_EXTENSIONS, "transfer")
    if file is None:
        columns = ", ".join(task.columns[:-1]) + " and label columns"
        raise TaskDataUnavailable(
            f"{task.name}: the transfer tasks are local-only (no Hub copy of SentEval's data is pinned); point to "
            f"local copies: {local_files_hint(task, '--transfer-dir', TRANSFER_FILE_EXTENSIONS, columns)}. "
            "SentEval's files, in this format, are in the hf_contrastive repository's benchmarks/data/senteval/ "
            "(see its SOURCE.md for their sources and terms)."
        )
    return read_transfer_file(file, task)


def load_transfer_suite(
    tasks: Sequence[str | TransferTask] | None = None,
    data_dir: str | None = None,
    files: Mapping[str, str] | None = None,
) -> tuple[TransferTaskData, ...]:
    """Every selected task's rows (see `evaluate_transfer_suite` for the arguments)."""
    selected = resolve_transfer_tasks(tasks)
    paths = files_by_task(files or {}, selected, "transfer")
    return tuple(load_transfer_task(task, data_dir=data_dir, file=paths.get(task.name)) for task in selected)
