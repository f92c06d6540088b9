"""The few-label study's data (`python -m benchmarks.semi_supervised`): the shipped SentEval files read as their
SOURCE.md describes them, stratified labelled draws, and each cell's labelled and unlabelled rows apart."""

from collections import Counter

import pytest

from benchmarks.semi_supervised import TASKS, read_task, split_for, stratified_draw, summarize


@pytest.mark.parametrize("task,sizes", [("sst2", {"train": 67349, "dev": 872, "test": 1821}),
                                        ("trec", {"train": 5452, "test": 500})])
def test_shipped_files_have_the_rows_and_classes_of_their_source_note(task, sizes):
    splits = read_task(task)
    assert {name: len(texts) for name, (texts, _) in splits.items()} == sizes
    assert {label for _, labels in splits.values() for label in labels} == set(range(len(TASKS[task])))
    assert all(text.strip() for texts, _ in splits.values() for text in texts)


def test_a_stratified_draw_takes_each_class_share_and_depends_on_the_seed():
    labels = [0] * 90 + [1] * 9 + [2] * 1
    chosen = stratified_draw(labels, 0.1, seed=3)
    assert Counter(labels[i] for i in chosen) == {0: 9, 1: 1, 2: 1}  # at least one row of every class
    assert stratified_draw(labels, 0.1, seed=3) == chosen and stratified_draw(labels, 0.1, seed=4) != chosen
    assert stratified_draw(labels, 1.0, seed=0) == list(range(100))


def test_a_cell_labels_its_draw_and_leaves_the_rest_of_the_pool_unlabelled():
    cell = split_for("trec", 0.01, seed=0, pool=10000)
    assert len(cell["texts"]) == len(cell["labels"]) and 50 <= len(cell["texts"]) <= 60
    assert Counter(cell["texts"]) + Counter(cell["unlabelled"]) == Counter(read_task("trec")["train"][0])
    assert split_for("trec", 1.0, seed=0, pool=10000)["unlabelled"] == []
    assert len(split_for("sst2", 0.1, seed=0, pool=2000)["texts"]) == 200


def test_summary_is_mean_and_sample_std_over_seeds_and_the_change_from_the_base():
    runs = [{"task": "trec", "fraction": 0.1, "method": "ce", "seed": s, "accuracy": a, "stsb_dev": b,
             "labelled": 5, "unlabelled": 0} for s, a, b in ((0, 80.0, 85.0), (1, 82.0, 84.0), (2, 84.0, 83.0))]
    (row,) = summarize(runs, base=86.0)
    assert row["accuracy"] == 82.0 and row["accuracy_std"] == 2.0
    assert row["stsb_change"] == -2.0 and row["stsb_change_std"] == 1.0 and row["seeds"] == [0, 1, 2]
