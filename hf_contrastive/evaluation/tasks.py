"""What the evaluation suites share about their tasks: names that ignore case and punctuation, choosing tasks from a
suite's table, finding a task's file in a local folder (or a `{task: path}` mapping), loading a Hub split at a pinned
revision, and the error that says how to give local files when the data cannot be had."""

from __future__ import annotations

import gzip
import os
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

Task = TypeVar("Task", bound="NamedTask")


def normalize_name(name: str) -> str:
    """`"SICK-R"`, `"sick_r"` and `"sickr"` alike: lower case, letters and digits only."""
    return "".join(character for character in name.lower() if character.isalnum())


class NamedTask:
    """A suite's task (a frozen dataclass with `name` and `aliases`): its file name and the names it answers to."""

    name: str
    aliases: tuple[str, ...]

    @property
    def file_stem(self) -> str:
        """The name of the task's file in a data directory, before its extension: `sts12`, `sickr`, `sst2`."""
        return normalize_name(self.name)

    def matches(self, name: str) -> bool:
        """Whether `name` names this task (its name or an alias; case and punctuation ignored)."""
        return normalize_name(name) in {normalize_name(n) for n in (self.name, *self.aliases)}


def get_task(name: str | Task, tasks: Sequence[Task], kind: str) -> Task:
    """The task named `name` among `tasks`; a task object is returned as is. Raises `ValueError` naming the known
    tasks (of the `kind` suite, e.g. `"STS"`) for an unknown name."""
    if isinstance(name, NamedTask):
        return name
    for task in tasks:
        if task.matches(name):
            return task
    raise ValueError(f"Unknown {kind} task {name!r}; the known tasks are {', '.join(t.name for t in tasks)}.")


def resolve_tasks(tasks: Sequence[str | Task] | str | Task | None, known: Sequence[Task], kind: str) -> tuple:
    """The tasks to evaluate: all of `known` for `None`, else each name (or task) in order, once."""
    if tasks is None:
        return tuple(known)
    if isinstance(tasks, (str, NamedTask)):
        tasks = [tasks]
    resolved = tuple(get_task(task, known, kind) for task in tasks)
    if not resolved:
        raise ValueError(f"No {kind} task selected; choose among {', '.join(t.name for t in known)}.")
    names = [task.name for task in resolved]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{kind} task(s) {repeated} selected more than once.")
    return resolved


def files_by_task(files: Mapping[str, str], tasks: Sequence[Task], kind: str) -> dict[str, str]:
    """`files` keyed by the canonical names of `tasks`; a name outside them is an error."""
    by_task = {}
    for name, path in files.items():
        try:
            task = get_task(name, tasks, kind)
        except ValueError:
            raise ValueError(f"`files` names {name!r}, which is not among the tasks evaluated "
                             f"({', '.join(t.name for t in tasks)}).") from None
        by_task[task.name] = path
    return by_task


def open_text(path: str, newline: str | None = None):
    """A UTF-8 text file, gunzipped when its name ends in `.gz`."""
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline=newline)
    return open(path, encoding="utf-8", newline=newline)


def file_alternatives(stem: str, extensions: Sequence[str]) -> str:
    """`sts12.tsv, .csv or .jsonl` (or `mr.tsv` for one extension)."""
    *first, last = extensions
    return f"{stem}{', '.join(first)} or {last}" if first else f"{stem}{last}"


def _split_file_name(file_name: str, extensions: Sequence[str]) -> tuple[str, str] | None:
    """`("STS12", ".tsv")` for `STS12.tsv.gz`; `None` for a name without one of `extensions`."""
    base = file_name[:-3] if file_name.lower().endswith(".gz") else file_name
    stem, extension = os.path.splitext(base)
    return (stem, extension.lower()) if extension.lower() in extensions else None


def find_task_file(data_dir: str, task: NamedTask, extensions: Sequence[str], kind: str) -> str:
    """The file of `task` in `data_dir`: named after the task, case and punctuation ignored, with one of
    `extensions`, optionally gzipped. Raises `FileNotFoundError` when the folder or the file is missing,
    `ValueError` when several files match."""
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"{data_dir}: no such directory (it should hold one {kind} file per task, e.g. "
                                f"{task.file_stem}{extensions[0]}).")
    candidates = [(name, _split_file_name(name, extensions)) for name in sorted(os.listdir(data_dir))]
    task_files = [name for name, parts in candidates if parts is not None]
    matches = [name for name, parts in candidates if parts is not None and task.matches(parts[0])]
    if not matches:
        raise FileNotFoundError(
            f"{data_dir}: no file for {task.name}; expected {file_alternatives(task.file_stem, extensions)} "
            f"(optionally .gz; case and punctuation in the name are ignored). {kind} files there: "
            f"{task_files or 'none'}."
        )
    if len(matches) > 1:
        raise ValueError(f"{data_dir}: several files for {task.name}: {matches}; keep one.")
    return os.path.join(data_dir, matches[0])


def task_file(task: NamedTask, data_dir: str | None, file: str | None, extensions: Sequence[str],
              kind: str) -> str | None:
    """The local file of `task`: `file` when given, else its file in `data_dir` (see `find_task_file`), else `None`."""
    if file is None and data_dir is not None:
        file = find_task_file(data_dir, task, extensions, kind)
    return file


class TaskDataUnavailable(OSError):
    """A task's data could not be loaded from the Hub (offline, unreachable, no access, or no Hub copy is pinned),
    and no local copy was given."""


def local_files_hint(task: NamedTask, option: str, extensions: Sequence[str], columns: str) -> str:
    """How to give `task`'s data as local files: the suite's `data_dir` (`option` on the command line), or `files`."""
    return (f"`data_dir` (`{option} DIR` on the command line), a folder with one file per task named after it (here "
            f"{file_alternatives(task.file_stem, extensions)}, optionally .gz, with {columns}), or "
            f"`files={{{task.name!r}: PATH}}`")


def load_hub_split(task: NamedTask, hub_id: str, revision: str | None, split: str, hint: str) -> Any:
    """`split` of the Hub dataset `hub_id` at `revision` as a `datasets.Dataset`; `TaskDataUnavailable` (saying
    `hint`: how to give local files) when it cannot be loaded."""
    from datasets import load_dataset

    try:
        return load_dataset(hub_id, revision=revision, split=split)
    except Exception as error:  # datasets raises many types here: offline, unreachable, gated, missing split...
        raise TaskDataUnavailable(
            f"{task.name}: cannot load {hub_split_name(hub_id, revision, split)} from the Hub "
            f"({type(error).__name__}: {error}). Offline, point to local copies: {hint}."
        ) from error


def hub_split_name(hub_id: str, revision: str | None, split: str) -> str:
    """`mteb/sts12-sts (revision a0d5..., split test)`: where a Hub split comes from, for messages and sources."""
    return f"{hub_id} (revision {revision or 'latest'}, split {split})"
