"""Checks of a dataset's shape and values, each a `DataError` naming the dataset, column, row and value. Column values
are read with pyarrow in the dataset's row order (fast for millions of rows)."""

from __future__ import annotations

from typing import Any

from ..errors import DataError

# Names sentence-transformers' trainer and collator read as labels or as the multi-dataset name, never as texts.
RESERVED_COLUMNS = ("label", "labels", "score", "scores", "dataset_name", "return_loss")


def string_columns(dataset: Any) -> list[str]:
    features = getattr(dataset, "features", None) or {}
    return [name for name, feature in features.items() if getattr(feature, "dtype", None) in ("string", "large_string")]


def check_single_table(dataset: Any, name: str) -> None:
    """A `datasets.Dataset` (or a table-like object with columns); clear errors for what the trainers do not take."""
    from datasets import DatasetDict, IterableDataset, IterableDatasetDict

    if isinstance(dataset, (DatasetDict, IterableDatasetDict, dict)):
        raise DataError(f"`{name}` is a dict of splits {list(dataset)}; pass one split, e.g. `{name}['train']`.")
    if isinstance(dataset, IterableDataset):
        raise DataError(f"`{name}` is a streaming IterableDataset; hf_contrastive's trainers take a `datasets.Dataset` "
                        "for now (materialise it, e.g. `Dataset.from_generator(lambda: iter(stream))`).")
    if not hasattr(dataset, "column_names"):
        raise DataError(f"`{name}` must be a `datasets.Dataset`, got {type(dataset).__name__}.")


def check_not_empty(dataset: Any, name: str) -> None:
    if hasattr(dataset, "__len__") and len(dataset) == 0:
        raise DataError(f"`{name}` is empty: it has no rows.")


def checked_columns(dataset: Any, name: str) -> list[str]:
    """The column names of `dataset`, a single table with rows (`check_single_table`, `check_not_empty`)."""
    check_single_table(dataset, name)
    check_not_empty(dataset, name)
    return list(dataset.column_names or [])


def arrow_column(dataset: Any, column: str) -> Any:
    """`column` as a pyarrow array in the dataset's row order: the table's column, through the indices mapping of a
    shuffled or selected dataset (one `take`, no Python objects, so fast for millions of rows)."""
    import pyarrow.compute as pc

    values = dataset.data.column(column)
    indices = getattr(dataset, "_indices", None)  # datasets' row mapping after shuffle / select / sort
    if indices is not None:
        values = pc.take(values, indices.column(0))
    if len(values) != len(dataset):  # a row mapping kept some other way: the public (slower) route
        values = dataset.select_columns([column]).with_format("arrow")[:].column(column)
    return values


def check_column_names(columns: list[str], name: str) -> None:
    reserved = [c for c in columns if c in RESERVED_COLUMNS]
    if reserved:
        raise DataError(f"`{name}` column {reserved[0]!r} has a name sentence-transformers reserves for labels or "
                        f"datasets ({', '.join(RESERVED_COLUMNS)}), so it cannot hold texts; rename it, e.g. "
                        f"`dataset.rename_column({reserved[0]!r}, 'text')`.")


def check_strings(dataset: Any, columns: list[str], name: str) -> None:
    strings = set(string_columns(dataset))
    for column in columns:
        if column not in strings:
            feature = (getattr(dataset, "features", None) or {}).get(column)
            raise DataError(f"`{name}` column {column!r} must hold strings, found {feature} "
                            f"(row 0: {arrow_column(dataset, column)[0].as_py()!r}).")


def check_texts(dataset: Any, columns: list[str], name: str) -> None:
    """`DataError` naming the first row with a missing (None), empty or whitespace-only text in `columns` (string
    columns), its column and value, and how many rows have one."""
    import pyarrow.compute as pc

    def blank(values: Any) -> Any:  # None, empty, or nothing but whitespace (boolean arrays, no copy of the texts)
        return pc.fill_null(pc.or_(pc.equal(pc.binary_length(values), 0), pc.utf8_is_space(values)), True)

    if not any(pc.any(blank(dataset.data.column(c))).as_py() for c in columns):
        return  # the stored table is clean: no row mapping to follow (the common case, no copy of the columns)
    values = {column: arrow_column(dataset, column) for column in columns}
    bad = {column: blank(values[column]) for column in columns}
    any_bad = bad[columns[0]]
    for mask in list(bad.values())[1:]:
        any_bad = pc.or_(any_bad, mask)
    count = pc.sum(any_bad).as_py()
    if not count:
        return
    row = pc.index(any_bad, True).as_py()
    column = next(c for c in columns if bad[c][row].as_py())
    value = values[column][row].as_py()
    problem = "missing (None)" if value is None else f"empty ({value!r})"
    raise DataError(f"`{name}` row {row}: column {column!r} is {problem}. {count} of {len(dataset)} rows have a "
                    f"missing, empty or whitespace-only text in {columns}; drop them first, e.g. "
                    f"`dataset.filter(lambda row: all(row[c] and row[c].strip() for c in {columns}))`.")


def check_all_texts(dataset: Any, name: str) -> None:
    """`check_texts` over every string column of a `datasets.Dataset` (what a user's own loss reads as texts); other
    objects pass."""
    columns = string_columns(dataset) if hasattr(dataset, "data") and hasattr(dataset, "features") else []
    if columns and len(dataset):
        check_texts(dataset, columns, name)
