"""Dataset -> the columns a loss expects, with errors that name the columns found."""

from __future__ import annotations

from typing import Any

UNSUPERVISED_TEXT_COLUMNS = ("text", "sentence", "sent0")
SUPERVISED_COLUMN_SETS = (("anchor", "positive", "negative"), ("sent0", "sent1", "hard_neg"))


def _string_columns(dataset: Any) -> list[str]:
    features = getattr(dataset, "features", None) or {}
    return [name for name, feature in features.items() if getattr(feature, "dtype", None) in ("string", "large_string")]


def _check_not_empty(dataset: Any, name: str) -> None:
    if hasattr(dataset, "__len__") and len(dataset) == 0:
        raise ValueError(f"`{name}` is empty: it has no rows.")


def _check_strings(dataset: Any, columns: list[str], name: str) -> None:
    strings = set(_string_columns(dataset))
    for column in columns:
        if column not in strings:
            feature = (getattr(dataset, "features", None) or {}).get(column)
            raise ValueError(f"`{name}` column {column!r} must hold strings, found {feature}.")


def simcse_columns(dataset: Any, mode: str, name: str = "train_dataset") -> Any:
    """Select the columns SimCSE trains on, in order.

    - `unsupervised`: one text column: `text`, `sentence` or `sent0`, else the only column.
    - `supervised`: `(anchor, positive[, negative])` or SimCSE's `(sent0, sent1[, hard_neg])`, else all columns
      in order when there are 2 or 3 of them.
    """
    if dataset is None:
        return None
    _check_not_empty(dataset, name)
    columns = list(dataset.column_names or [])
    if mode == "unsupervised":
        chosen = next(([c] for c in UNSUPERVISED_TEXT_COLUMNS if c in columns), None)
        if chosen is None and len(columns) == 1:
            chosen = columns
        if chosen is None:
            raise ValueError(
                f"Unsupervised SimCSE needs one text column named one of {list(UNSUPERVISED_TEXT_COLUMNS)} "
                f"(or a dataset with a single column); `{name}` has columns {columns}."
            )
    elif mode == "supervised":
        chosen = None
        for names in SUPERVISED_COLUMN_SETS:
            if set(names[:2]) <= set(columns):
                chosen = [c for c in names if c in columns]
                break
        if chosen is None and len(columns) in (2, 3):
            chosen = columns
        if chosen is None:
            raise ValueError(
                "Supervised SimCSE needs (anchor, positive[, negative]) or (sent0, sent1[, hard_neg]) columns, "
                f"or exactly 2 or 3 text columns; `{name}` has columns {columns}."
            )
    else:
        raise ValueError(f"`mode` must be 'unsupervised' or 'supervised', got {mode!r}.")
    _check_strings(dataset, chosen, name)
    return dataset.select_columns(chosen) if chosen != columns else dataset
