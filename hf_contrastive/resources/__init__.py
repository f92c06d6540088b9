"""Small real data sets shipped with the package (see SOURCE.md for origin and licenses)."""

from __future__ import annotations

import gzip
from importlib.resources import files


def read_wiki_sentences(limit: int | None = None) -> list[str]:
    """Non-empty lines of the shipped wiki1m sample (SimCSE's unsupervised training text), in file order."""
    with gzip.open(files(__name__) / "wiki1m_sample.txt.gz", "rt", encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    sentences = [line for line in lines if line]
    return sentences[:limit] if limit is not None else sentences


def stsb_path() -> str:
    """Path of the shipped STS Benchmark dev + test file (sentence-transformers' `stsbenchmark.tsv.gz` layout)."""
    return str(files(__name__) / "stsbenchmark_dev_test.tsv.gz")
