"""Dataset -> the columns a loss expects, with errors that name the columns found."""

from __future__ import annotations

import logging
import re
from typing import Any

logger = logging.getLogger(__name__)

UNSUPERVISED_TEXT_COLUMNS = ("text", "sentence", "sent0")
SUPERVISED_COLUMN_SETS = (("anchor", "positive", "negative"), ("sent0", "sent1", "hard_neg"))


def _string_columns(dataset: Any) -> list[str]:
    features = getattr(dataset, "features", None) or {}
    return [name for name, feature in features.items() if getattr(feature, "dtype", None) in ("string", "large_string")]


def _check_single_table(dataset: Any, name: str) -> None:
    """A `datasets.Dataset` (or a table-like object with columns); clear errors for what the trainers do not take."""
    from datasets import DatasetDict, IterableDataset, IterableDatasetDict

    if isinstance(dataset, (DatasetDict, IterableDatasetDict, dict)):
        raise ValueError(f"`{name}` is a dict of splits {list(dataset)}; pass one split, e.g. `{name}['train']`.")
    if isinstance(dataset, IterableDataset):
        raise ValueError(f"`{name}` is a streaming IterableDataset; hf_contrastive's trainers take a `datasets.Dataset` "
                         "for now (materialise it, e.g. `Dataset.from_generator(lambda: iter(stream))`).")
    if not hasattr(dataset, "column_names"):
        raise ValueError(f"`{name}` must be a `datasets.Dataset`, got {type(dataset).__name__}.")


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
    - `supervised`: `(anchor, positive[, negative, negative_2, ...])` or SimCSE's `(sent0, sent1[, hard_neg, ...])`,
      else all columns in order when there are 2 or 3 of them.
    """
    if dataset is None:
        return None
    _check_single_table(dataset, name)
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
        for anchor, positive, negative in SUPERVISED_COLUMN_SETS:
            if {anchor, positive} <= set(columns):  # then every negative column: negative, negative_2, ...
                chosen = [anchor, positive, *(c for c in columns if re.fullmatch(rf"{negative}(_\d+)?", c))]
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


def prepare_documents(
    dataset: Any,
    tokenizer: Any,
    *,
    num_anchors: int,
    max_span_len: int,
    strict: bool = False,
    name: str = "train_dataset",
    text_column: str = "text",
) -> Any:
    """Tokenize each document once (the model's tokenizer, no special tokens) into character offsets, and drop the
    documents too short for DeCLUTR (`num_anchors * max_span_len * 2` tokens), logging how many.

    Returns the dataset with columns `text`, `token_starts`, `token_ends` and `doc_index` (the row's index in the
    given dataset). With `strict`, a short document raises a `ValueError` naming its index, length and the
    requirement. Raises when no document is left, or when a text is not a string.
    """
    from .spans import min_document_tokens

    if dataset is None:
        return None
    _check_single_table(dataset, name)
    _check_not_empty(dataset, name)
    columns = list(dataset.column_names or [])
    if text_column not in columns:
        raise ValueError(f"DeCLUTR needs a {text_column!r} column of documents; `{name}` has columns {columns}.")
    required = min_document_tokens(num_anchors, max_span_len)
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise ValueError(f"DeCLUTR needs a fast (Rust) tokenizer for token offsets; got {type(tokenizer).__name__}.")
    # A private copy of the Rust tokenizer without the truncation/padding a checkpoint may carry (whole documents).
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_truncation()
    backend.no_padding()

    def tokenize(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        for index, text in zip(indices, batch[text_column]):
            if not isinstance(text, str):
                raise ValueError(f"`{name}` row {index}: {text_column!r} must be a string, got {type(text).__name__}.")
        # The fast tokenizer's Rust backend: whole documents, no special tokens, no length warning.
        offsets = [e.offsets for e in backend.encode_batch(batch[text_column], add_special_tokens=False)]
        if strict:
            for index, document in zip(indices, offsets):
                if len(document) < required:
                    raise ValueError(
                        f"`{name}` row {index} has {len(document)} tokens; DeCLUTR needs at least {required} "
                        f"(num_anchors * max_span_len * 2 = {num_anchors} * {max_span_len} * 2). Use longer "
                        "documents, smaller `max_span_len`, or `strict_length=False` to drop short ones."
                    )
        return {"text": batch[text_column], "token_starts": [[s for s, _ in doc] for doc in offsets],
                "token_ends": [[e for _, e in doc] for doc in offsets], "doc_index": indices,
                "num_tokens": [len(doc) for doc in offsets]}

    documents = dataset.map(tokenize, batched=True, with_indices=True, remove_columns=columns,
                            desc="Tokenizing documents for span sampling")
    lengths = documents.data.column("num_tokens").to_pylist()
    documents = documents.remove_columns("num_tokens")
    keep = [i for i, length in enumerate(lengths) if length >= required]
    if not keep:
        raise ValueError(
            f"No document in `{name}` has the {required} tokens DeCLUTR needs (num_anchors * max_span_len * 2 = "
            f"{num_anchors} * {max_span_len} * 2); the longest has {max(lengths)}. Lower `max_span_len` or "
            "`num_anchors`, or use longer documents."
        )
    if len(keep) < len(lengths):
        logger.warning(
            f"DeCLUTR: dropped {len(lengths) - len(keep)} of {len(lengths)} documents in `{name}` with fewer than "
            f"{required} tokens (num_anchors * max_span_len * 2); {len(keep)} remain."
        )
        documents = documents.select(keep)
    return documents
