"""Training text from a local file, a URL or a Hub dataset, as `datasets.Dataset`s (STS sets: `evaluation.sts_files`)."""

from __future__ import annotations

import os

BUILDERS = {".txt": ("text", {}), ".csv": ("csv", {}), ".tsv": ("csv", {"delimiter": "\t"}), ".json": ("json", {}),
            ".jsonl": ("json", {})}
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst")  # read through `datasets`, which decompresses them


def file_format(path_or_url: str) -> str:
    """The extension that names a file's format, past a compression suffix: `trec.tsv.gz` -> `.tsv`."""
    stem, extension = os.path.splitext(path_or_url.split("?")[0])
    if extension.lower() in COMPRESSIONS:
        extension = os.path.splitext(stem)[1]
    return extension.lower()


def load_text_dataset(path_or_url: str):
    """`.txt` (one text per line -> a `text` column, blank lines dropped), `.csv`, `.tsv`, `.json` or `.jsonl`
    (each optionally compressed: `.gz`, `.bz2`, `.xz`, `.zst`), from a local path or an http(s) URL (e.g. SimCSE's
    `wiki1m_for_simcse.txt` on the Hub). The dataset is named after
    the file (`info.dataset_name`, e.g. `wiki1m_for_simcse.txt`: the model card names it; the folder stays private)."""
    from datasets import load_dataset
    from datasets.exceptions import DatasetGenerationError

    from ..errors import DataError

    is_url = path_or_url.startswith(("http://", "https://"))
    if not is_url and not os.path.isfile(path_or_url):
        raise ValueError(f"Training file {path_or_url!r} does not exist.")
    extension = file_format(path_or_url)
    if extension not in BUILDERS:
        raise ValueError(f"Training file {path_or_url!r}: use a .txt, .csv, .tsv, .json or .jsonl file "
                         f"(optionally {', '.join(COMPRESSIONS)}).")
    builder, options = BUILDERS[extension]
    try:
        dataset = load_dataset(builder, data_files=path_or_url, split="train", **options)
    except DatasetGenerationError as error:  # a malformed file: say which, and what the parser found
        cause = error.__cause__ or error
        raise DataError(f"Training file {path_or_url!r} cannot be read as {extension[1:].upper()}: "
                        f"{type(cause).__name__}: {cause}") from error
    if builder == "text":
        dataset = dataset.filter(lambda row: bool(row["text"].strip()))
    dataset.info.dataset_name = os.path.basename(path_or_url.split("?")[0])
    return dataset


def load_file_or_split(path_or_url: str | None = None, dataset_name: str | None = None,
                       dataset_config: str | None = None, split: str | None = "train"):
    """A local file or URL (`load_text_dataset`), else `split` of `dataset_name` (a Hub dataset or a local folder of
    data files), e.g. a `train` config's `train_file`, or `dataset_name` + `dataset_split`."""
    if path_or_url:
        return load_text_dataset(path_or_url)
    from datasets import load_dataset

    return load_dataset(dataset_name, dataset_config, split=split)

