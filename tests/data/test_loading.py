"""`load_text_dataset`: each format, plain or compressed, named after its file; bad paths name the file."""

import bz2
import gzip
import json

import pytest

from hf_contrastive.data.loading import file_format, load_text_dataset

ROWS = [{"text": "the cat sat", "label": 0}, {"text": "a dog ran", "label": 1}]


def write(path, data: bytes):
    opener = {".gz": gzip.compress, ".bz2": bz2.compress}.get(path.suffix, lambda b: b)
    path.write_bytes(opener(data))
    return str(path)


@pytest.mark.parametrize("name", ["rows.tsv", "rows.tsv.gz", "rows.csv.bz2", "rows.jsonl.gz", "rows.json"])
def test_each_format_plain_or_compressed_gives_the_rows(tmp_path, name):
    if ".tsv" in name or ".csv" in name:
        sep = "\t" if ".tsv" in name else ","
        data = "text" + sep + "label\n" + "".join(f"{r['text']}{sep}{r['label']}\n" for r in ROWS)
    else:
        data = "".join(json.dumps(r) + "\n" for r in ROWS)
    dataset = load_text_dataset(write(tmp_path / name, data.encode()))
    assert dataset.to_list() == ROWS
    assert dataset.info.dataset_name == name


def test_a_compressed_text_file_drops_blank_lines(tmp_path):
    dataset = load_text_dataset(write(tmp_path / "lines.txt.gz", b"the cat sat\n\n   \na dog ran\n"))
    assert dataset["text"] == ["the cat sat", "a dog ran"]


def test_file_format_looks_past_the_compression():
    assert file_format("a/trec.tsv.gz") == ".tsv"
    assert file_format("https://x.org/wiki.TXT?download=1") == ".txt"
    assert file_format("docs.jsonl.zst") == ".jsonl"
    assert file_format("archive.gz") == ""


@pytest.mark.parametrize("name", ["rows.parquet", "rows.gz", "rows.tsv.zip"])
def test_an_unknown_format_names_the_file(tmp_path, name):
    path = write(tmp_path / name, b"x")
    with pytest.raises(ValueError, match=f"{name}.*use a .txt, .csv, .tsv, .json or .jsonl file"):
        load_text_dataset(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match="missing.tsv' does not exist"):
        load_text_dataset(str(tmp_path / "missing.tsv"))
