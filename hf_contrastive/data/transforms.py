"""Dataset -> the columns a loss expects (the checks of the values are in `checks`)."""

from __future__ import annotations

import logging
import re
from typing import Any

from ..errors import DataError
from .checks import arrow_column, check_column_names, check_strings, check_texts, checked_columns

logger = logging.getLogger(__name__)

UNSUPERVISED_TEXT_COLUMNS = ("text", "sentence", "sent0")
SUPERVISED_COLUMN_SETS = (("anchor", "positive", "negative"), ("sent0", "sent1", "hard_neg"))
NEGATIVE_LIKE = r"(hard[_ -]?)?neg(ative)?s?([_ -]?\d+)?"  # hard_neg, negatives, Negative_2, neg1, ... (any case)


def simcse_columns(dataset: Any, mode: str, name: str = "train_dataset") -> Any:
    """Select the columns SimCSE trains on, in order.

    - `unsupervised`: one text column: `text`, `sentence` or `sent0`, else the only column.
    - `supervised`: `(anchor, positive[, negative, negative_2, ...])` or SimCSE's `(sent0, sent1[, hard_neg, ...])`,
      else all columns in order when there are 2 or 3 of them. With named columns, another column named like a hard
      negative (`hard_neg` beside `anchor`, `negatives`, `neg_1`, ...) is an error rather than a hard negative ignored.

    Other columns are ignored (logged). Every text must be a non-empty string (`DataError` naming the first bad row).
    """
    if dataset is None:
        return None
    columns = checked_columns(dataset, name)
    if mode == "unsupervised":
        chosen = next(([c] for c in UNSUPERVISED_TEXT_COLUMNS if c in columns), None)
        if chosen is None and len(columns) == 1:
            chosen = columns
        if chosen is None:
            raise DataError(
                f"Unsupervised SimCSE needs one text column named one of {list(UNSUPERVISED_TEXT_COLUMNS)} "
                f"(or a dataset with a single column); `{name}` has columns {columns}."
            )
    elif mode == "supervised":
        chosen = None
        for anchor, positive, negative in SUPERVISED_COLUMN_SETS:
            if {anchor, positive} <= set(columns):  # then every negative column: negative, negative_2, ...
                chosen = [anchor, positive, *(c for c in columns if re.fullmatch(rf"{negative}(_\d+)?", c))]
                unknown = [c for c in columns if c not in chosen and re.fullmatch(NEGATIVE_LIKE, c, re.IGNORECASE)]
                if unknown:
                    raise DataError(
                        f"`{name}` column(s) {unknown} look like hard negatives, but with ({anchor}, {positive}) "
                        f"columns SimCSE reads hard negatives from columns named '{negative}', '{negative}_2', ...; "
                        f"rename them, or drop them with `dataset.remove_columns({unknown})`."
                    )
                break
        if chosen is None and len(columns) in (2, 3):
            chosen = columns
        if chosen is None:
            raise DataError(
                "Supervised SimCSE needs (anchor, positive[, negative]) or (sent0, sent1[, hard_neg]) columns, "
                f"or exactly 2 or 3 text columns; `{name}` has columns {columns}."
            )
    else:
        raise ValueError(f"`mode` must be 'unsupervised' or 'supervised', got {mode!r}.")
    check_column_names(chosen, name)
    check_strings(dataset, chosen, name)
    check_texts(dataset, chosen, name)
    if chosen == columns:
        return dataset
    logger.warning(f"SimCSE ({mode}) trains on the columns {chosen} of `{name}` and ignores "
                   f"{[c for c in columns if c not in chosen]}.")
    return dataset.select_columns(chosen)


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
    given dataset). With `strict`, a short document (an empty one too) raises a `DataError` naming its index, length
    and the requirement. Raises when no document is left, or when a text is not a string (None included).
    """
    from .spans import min_document_tokens

    if dataset is None:
        return None
    columns = checked_columns(dataset, name)
    if text_column not in columns:
        raise DataError(f"DeCLUTR needs a {text_column!r} column of documents; `{name}` has columns {columns}.")
    check_strings(dataset, [text_column], name)
    texts = arrow_column(dataset, text_column)
    if texts.null_count:  # empty documents are only short: dropped below, or rejected with `strict`
        import pyarrow.compute as pc

        raise DataError(f"`{name}` row {pc.index(texts.is_null(), True).as_py()}: column {text_column!r} is missing "
                        f"(None); {texts.null_count} of {len(dataset)} documents are.")
    required = min_document_tokens(num_anchors, max_span_len)
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise ValueError(f"DeCLUTR needs a fast (Rust) tokenizer for token offsets; got {type(tokenizer).__name__}.")
    # A private copy of the Rust tokenizer without the truncation/padding a checkpoint may carry (whole documents).
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_truncation()
    backend.no_padding()

    def tokenize(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        # The fast tokenizer's Rust backend: whole documents, no special tokens, no length warning.
        offsets = [e.offsets for e in backend.encode_batch(batch[text_column], add_special_tokens=False)]
        if strict:
            for index, document in zip(indices, offsets):
                if len(document) < required:
                    raise DataError(
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
        raise DataError(
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


LABEL_COLUMN = "label"


def check_class_ids(dataset: Any, name: str, method: str, missing: str = "") -> Any:
    """The `label` column holds class ids (a `ClassLabel`, or integers), none missing (`missing` says what to write
    instead); `DataError` naming `name`, the row and the value otherwise. Returns the column (pyarrow)."""
    import pyarrow.compute as pc

    feature = dataset.features[LABEL_COLUMN]
    dtype = getattr(feature, "dtype", None)
    labels = arrow_column(dataset, LABEL_COLUMN)
    if getattr(feature, "names", None) is None and dtype in ("string", "large_string"):
        raise DataError(f"`{name}` column 'label' holds strings; {method} needs class ids (row 0: "
                        f"{labels[0].as_py()!r}): encode them with `dataset = dataset.class_encode_column('label')` "
                        "(its ClassLabel names are kept).")
    if labels.null_count:
        raise DataError(f"`{name}` row {pc.index(labels.is_null(), True).as_py()}: 'label' is missing (None)"
                        f"{missing}.")
    if getattr(feature, "names", None) is None and not str(dtype).startswith(("int", "uint")):
        raise DataError(f"`{name}` column 'label' must hold integer class ids, found {feature} (row 0: "
                        f"{labels[0].as_py()!r}); whole numbers can be cast with "
                        "`dataset.cast_column('label', Value('int64'))`.")
    return labels


def label_names(dataset: Any, num_labels: int | None, name: str = "train_dataset") -> dict[int, str]:
    """`{class id: name}` of the `label` column: a `ClassLabel`'s names, else ids `0..num_labels-1` with `num_labels`
    given or the largest label + 1. Every label is checked to be an int in `[-1, num_labels)` (-1: unlabelled)."""
    import pyarrow.compute as pc

    names = getattr(dataset.features[LABEL_COLUMN], "names", None)
    labels = check_class_ids(dataset, name, "SFT+contrastive", "; use -1 for an unlabelled row")
    smallest, largest = (value.as_py() for value in pc.min_max(labels).values())
    if num_labels is None:
        num_labels = len(names) if names is not None else largest + 1
    if names is not None and len(names) != num_labels:
        raise DataError(f"`num_labels={num_labels}` but `{name}`'s ClassLabel has {len(names)} names: {names}.")
    if num_labels < 2:
        raise DataError(f"`{name}` has {num_labels} class(es) (largest label {largest}); a classifier needs at "
                        "least 2 (set `num_labels` when the training set lacks the highest classes).")
    if smallest < -1 or largest >= num_labels:
        row, label = next((i, x) for i, x in enumerate(labels.to_pylist()) if not -1 <= x < num_labels)
        raise DataError(f"`{name}` row {row}: label {label} is out of range for {num_labels} classes "
                        f"(0..{num_labels - 1}, or -1 for an unlabelled row).")
    return {i: str(names[i]) if names is not None else str(i) for i in range(num_labels)}


def sft_columns(dataset: Any, name: str = "train_dataset", text_columns: list[str] | None = None) -> Any:
    """`(text columns..., label)` in order for SFT+contrastive. The text columns are `text_columns` when given (the
    training set's, for an evaluation set), else every column but `label`: one text or a pair of texts."""
    columns = checked_columns(dataset, name)
    if LABEL_COLUMN not in columns:
        raise DataError(f"SFT+contrastive needs a 'label' column of class ids; `{name}` has columns {columns} "
                        "(rename yours with `dataset.rename_column(..., 'label')`).")
    if text_columns is None:
        text_columns = [c for c in columns if c != LABEL_COLUMN]
        if len(text_columns) not in (1, 2):
            raise DataError(f"SFT+contrastive classifies one text or a pair of texts; `{name}` has {len(text_columns)} "
                            f"columns besides 'label': {text_columns}. Keep 1 or 2 with `dataset.select_columns`.")
    missing = [c for c in text_columns if c not in columns]
    if missing:
        raise DataError(f"`{name}` lacks the text column(s) {missing} of the training set; it has {columns}.")
    check_column_names(text_columns, name)
    check_strings(dataset, text_columns, name)
    check_texts(dataset, text_columns, name)
    chosen = [*text_columns, LABEL_COLUMN]
    return dataset.select_columns(chosen) if chosen != columns else dataset


def with_unlabelled(labelled: Any, unlabelled: Any, strategy: str, name: str = "unlabelled_dataset") -> Any:
    """The training data of SFT+contrastive with a second, unlabelled dataset.

    - `mixing`: one dataset, the unlabelled rows appended with label `-1` (so a shuffled batch holds both); their
      text columns must be the labelled set's (a single text column is renamed to match).
    - `alternating`: a `DatasetDict` `{"labelled", "unlabelled"}`, batches drawn from each in turn (round robin);
      the unlabelled set may have 1 or 2 text columns of any name.
    """
    from datasets import DatasetDict, Value, concatenate_datasets

    texts = [c for c in labelled.column_names if c != LABEL_COLUMN]
    columns = [c for c in checked_columns(unlabelled, name) if c != LABEL_COLUMN]
    if strategy == "alternating":
        if len(columns) not in (1, 2):
            raise DataError(f"`{name}` must have 1 or 2 text columns, found {columns}.")
        check_column_names(columns, name)
        check_strings(unlabelled, columns, name)
        check_texts(unlabelled, columns, name)
        return DatasetDict({"labelled": labelled, "unlabelled": unlabelled.select_columns(columns)})
    if len(texts) == 1 and len(columns) == 1:
        used = columns  # one text column of any name: renamed to the labelled set's below
    elif set(texts) - set(columns):
        raise DataError(f"With strategy='mixing', `{name}` needs the labelled set's text columns {texts}; it has "
                        f"{unlabelled.column_names}. Use strategy='alternating' for differently shaped data.")
    else:
        used = texts
    check_strings(unlabelled, used, name)
    check_texts(unlabelled, used, name)
    if used != texts:
        unlabelled = unlabelled.rename_column(used[0], texts[0])
    unlabelled = unlabelled.select_columns(texts).add_column(LABEL_COLUMN, [-1] * len(unlabelled))
    labelled = labelled.cast_column(LABEL_COLUMN, Value("int64"))
    unlabelled = unlabelled.cast(labelled.features)
    return concatenate_datasets([labelled, unlabelled])


def supcon_columns(dataset: Any, name: str = "train_dataset") -> Any:
    """`(views..., label)` in order for SupCon: every column but `label` is a text view of the row (one text, or
    several, e.g. a text and its paraphrase); `label` holds class ids (any integers: rows with equal ids are
    positives)."""
    if dataset is None:
        return None
    columns = checked_columns(dataset, name)
    if LABEL_COLUMN not in columns:
        raise DataError(f"SupCon needs a 'label' column of class ids; `{name}` has columns {columns} "
                        "(rename yours with `dataset.rename_column(..., 'label')`).")
    views = [c for c in columns if c != LABEL_COLUMN]
    if not views:
        raise DataError(f"SupCon needs at least one text column besides 'label'; `{name}` has columns {columns}.")
    check_column_names(views, name)
    check_strings(dataset, views, name)
    check_texts(dataset, views, name)
    check_class_ids(dataset, name, "SupCon")
    chosen = [*views, LABEL_COLUMN]
    return dataset.select_columns(chosen) if chosen != columns else dataset
