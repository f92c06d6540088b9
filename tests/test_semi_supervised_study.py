"""The few-label study's data (`python -m benchmarks.semi_supervised`): the shipped SentEval files read as their
SOURCE.md describes them, stratified labelled draws, and each cell's labelled and unlabelled rows apart."""

from collections import Counter

import pytest
import torch

from benchmarks.semi_supervised import (DEFAULT_METHODS, METHODS, STUDY, TASKS, figure_for, method_settings, parse,
                                        read_task, split_for, stratified_draw, summarize)


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


def test_method_names_are_the_settings_they_train_with():
    assert method_settings("ce") == {"strategy": "mixing", "negatives": "fine_tuned", "consistency": "none",
                                     "contrastive": False}
    assert method_settings("ce+uda")["consistency"] == "uda" and not method_settings("ce+uda")["contrastive"]
    assert method_settings("alternating/both") == {"strategy": "alternating", "negatives": "both",
                                                   "consistency": "none", "contrastive": True}
    assert all(m in METHODS for m in DEFAULT_METHODS) and "mixing/fine_tuned+fixmatch" in DEFAULT_METHODS


def test_the_workers_get_every_setting_of_the_study():
    options = parse(["--steps", "7", "--consistency-threshold", "0.5", "--lambda", "2", "--evaluation", "dev"])
    assert STUDY.settings_of(parse(STUDY.worker_arguments(options))) == STUDY.settings_of(options)
    assert STUDY.settings_of(options)["consistency_threshold"] == 0.5 and STUDY.settings_of(options)["weight"] == 2.0


def test_resume_reuses_only_the_results_of_the_same_settings(tmp_path, monkeypatch):
    """A study resumed with other settings runs its cells again instead of mixing in the stored results (which stay
    in the file)."""
    import json

    import benchmarks.semi_supervised as study
    import benchmarks.study

    old = {"task": "trec", "fraction": 0.1, "method": "ce", "seed": 0, "accuracy": 50.0, "stsb_dev": 80.0,
           "labelled": 5, "unlabelled": 0, "wall_seconds": 1.0, "cpu_seconds": 1.0,
           "settings": STUDY.settings_of(parse(["--steps", "20"]))}
    (tmp_path / "results.json").write_text(json.dumps([old, {**old, "method": "probe"}]))
    calls = []

    def fake_worker(module, task, fraction, *arguments):
        calls.append(arguments)
        options = parse(["--worker", task, fraction, *arguments])
        return [{**old, "method": m, "accuracy": 70.0, "settings": None} for m in options.methods]

    monkeypatch.setattr(benchmarks.study, "run_in_fresh_process", fake_worker)
    monkeypatch.setattr(study, "plot", lambda rows, path: None)
    study.main(["--tasks", "trec", "--fractions", "0.1", "--seeds", "0", "--methods", "probe", "ce", "--steps", "30",
                "--resume", "--output-dir", str(tmp_path)])
    assert len(calls) == 1 and calls[0][calls[0].index("--steps") + 1] == "30"
    stored = json.loads((tmp_path / "results.json").read_text())
    assert [r["settings"]["steps"] for r in stored] == [20, 20, 30, 30]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [row["accuracy"] for row in summary["rows"]] == [70.0, 70.0]
    calls.clear()
    study.main(["--tasks", "trec", "--fractions", "0.1", "--seeds", "0", "--methods", "probe", "ce", "--steps", "30",
                "--resume", "--output-dir", str(tmp_path)])
    assert calls == []  # the same settings: nothing runs again


def test_the_plot_draws_each_methods_means_and_spreads():
    rows = summarize([{"task": t, "fraction": f, "method": m, "seed": s, "accuracy": a + s, "stsb_dev": 86.0 - s,
                       "labelled": 1, "unlabelled": 0, "wall_seconds": 2.0}
                      for t in ("sst2", "trec") for f in (0.01, 0.1) for m, a in (("ce", 70.0), ("setfit", 80.0))
                      for s in (0, 1, 2)], base=86.0)
    figure = figure_for(rows)
    axes = figure.axes
    assert [axis.get_title() for axis in axes] == ["SST2", "TREC", "SST2", "TREC"]
    lines = {bars.get_label(): bars.lines[0] for bars in axes[0].containers}  # errorbar: (line, caps, bars)
    assert set(lines) == {"ce", "setfit"}
    assert list(lines["ce"].get_xdata()) == [1.0, 10.0] and list(lines["setfit"].get_ydata()) == [81.0, 81.0]
    changes = {bars.get_label(): list(bars.lines[0].get_ydata()) for bars in axes[2].containers}
    assert changes["ce"] == [-1.0, -1.0]
    segments = axes[0].containers[0].lines[2][0].get_segments()  # the error bars: ± the std over seeds (1.0)
    assert [round(float(s[1][1] - s[0][1]), 6) for s in segments] == [2.0, 2.0]


def test_the_setfit_peer_trains_its_body_on_the_labelled_rows_and_predicts_their_classes(model, sentences, tmp_path):
    pytest.importorskip("setfit")
    from benchmarks.setfit_peer import setfit_accuracy, train_setfit

    model.save(str(tmp_path / "body"))
    texts, labels = sentences[:12], [i % 3 for i in range(12)]
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    setfit, seconds = train_setfit(str(tmp_path / "body"), texts, labels, steps=3, batch_size=4, learning_rate=1e-3,
                                   max_seq_length=16, seed=0, output_dir=str(tmp_path / "runs"))
    after = dict(setfit.model_body.named_parameters())
    assert seconds > 0 and any(not torch.equal(before[n], after[n]) for n in before)  # the body trained
    predictions = setfit.predict(texts, as_numpy=True).tolist()
    assert set(predictions) <= {0, 1, 2}
    assert setfit_accuracy(setfit, texts, labels) == 100 * sum(p == g for p, g in zip(predictions, labels)) / 12
