"""Reading STS files (`sentence1`, `sentence2`, `score`) and the STS Benchmark splits shipped with the package."""

from __future__ import annotations

import csv
import json
from typing import Any

import numpy as np

from ..errors import DataError
from ..resources import stsb_path
from .tasks import open_text

STS_COLUMNS = ("sentence1", "sentence2", "score")
STSB_SPLITS = ("dev", "test")


def score_problem(value: Any) -> str | None:
    """Why `value` is not a gold score (a finite number, or a string of one), or `None` when it is one."""
    try:
        if isinstance(value, bool):
            raise TypeError
        score = float(value)
    except (TypeError, ValueError):
        return "must be a number"
    return None if np.isfinite(score) else "must be finite"


def _parse_score(value: Any, path: str, line: int) -> float:
    problem = score_problem(value)
    if problem:
        raise DataError(f"{path}, line {line}: `score` {problem}, got {value!r}.")
    return float(value)


def _json_rows(path: str, lines) -> list[tuple[int, dict]]:
    rows = []
    for line_number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}, line {line_number}: not valid JSON ({error.msg}).") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}, line {line_number}: expected a JSON object with "
                                f"{', '.join(STS_COLUMNS)}, got {type(row).__name__}.")
            rows.append((line_number, row))
    return rows


def read_sts_file(path: str, split: str | None = None) -> dict[str, list]:
    """Read an STS file into `{"sentence1": [...], "sentence2": [...], "score": [...]}`.

    Accepts TSV (`.tsv`, tab-separated, no quoting, as STS-B's own files), CSV (`.csv`) or JSON lines (`.jsonl`),
    optionally gzipped, with a header naming `sentence1`, `sentence2` and `score` columns (other columns are
    ignored). With `split`, keeps only rows whose `split` column equals it (sentence-transformers'
    `stsbenchmark.tsv.gz` layout). Raises `DataError` naming the file, line, field and value for malformed rows.
    Scores may be on any scale (STS-B's 0-5, SICK-R's 1-5, ...): a Spearman correlation does not depend on it.
    """
    name = path[:-3] if path.endswith(".gz") else path
    with open_text(path) as f:
        if name.endswith(".jsonl"):
            rows = _json_rows(path, f)
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


def load_sts_dataset(spec: str):
    """`stsb-dev` / `stsb-test` (shipped) or a path to an STS file, as a Dataset with sentence1/sentence2/score."""
    from datasets import Dataset

    if spec in ("stsb-dev", "stsb-test"):
        return load_stsb(spec.split("-")[1])
    return Dataset.from_dict(read_sts_file(spec))
