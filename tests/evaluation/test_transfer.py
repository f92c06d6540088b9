import gzip
import hashlib
import logging
import os

import numpy as np
import pytest
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from hf_contrastive.cli import main
from hf_contrastive.errors import DataError
from hf_contrastive.evaluation import (
    TRANSFER_TASKS,
    TaskDataUnavailable,
    TransferTask,
    evaluate_sts_suite,
    evaluate_transfer_suite,
    evaluation_results,
    load_transfer_suite,
    read_transfer_file,
)
from hf_contrastive.evaluation.suites import evaluate_with_base, load_suites
from hf_contrastive.evaluation.transfer import pair_features, sample_train_rows
from hf_contrastive.hub.card import eval_results_files, render_card
from hf_contrastive.hub.card_data import CardData, set_evaluation
from hf_contrastive.modeling import build_sentence_transformer

SENTEVAL = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "data", "senteval")
TASKS = {task.name: task for task in TRANSFER_TASKS}


def write_task_file(path, columns, rows, gz=None) -> str:
    """A file in SentEval's shared format: a header, tab-separated fields, no quoting."""
    text = "\t".join(columns) + "\n" + "".join("\t".join(map(str, row)) + "\n" for row in rows)
    path = str(path)
    if gz if gz is not None else path.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return path


def vector(text: str, dim: int = 8) -> np.ndarray:
    """A fixed pseudo-random vector per text (the same in every process)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


class StubEncoder:
    """`encode` from a function of the text, recording every text it is asked to encode."""

    def __init__(self, embed=vector):
        self.embed = embed
        self.encoded: list[str] = []

    def encode(self, texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False):
        self.encoded += list(texts)
        return np.stack([self.embed(text) for text in texts])


class Recorder(BaseEstimator, ClassifierMixin):
    """A logistic regression that logs the first feature (a row id, by the stub's embedding) of every row it is fit
    on or asked to predict; `log` is shared by the clones the suite makes."""

    log: list = []

    def fit(self, X, y):
        Recorder.log.append(("fit", X[:, 0].astype(int).tolist(), X.copy()))
        self.model_ = LogisticRegression(C=1.0, max_iter=1000).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        Recorder.log.append(("predict", X[:, 0].astype(int).tolist(), X.copy()))
        return self.model_.predict(X)


def id_embedding(text: str) -> np.ndarray:
    """`[row id, signal, noise...]` for texts `"row <id> <label>"`: separable by the label."""
    _, row, label = text.split()
    return np.concatenate([[float(row), 4.0 * (int(label) - 0.5)], vector(text, 6)]).astype(np.float32)


def binary_rows(count: int, label_of=lambda i: i % 2) -> list[tuple[str, int]]:
    return [(f"row {i} {label_of(i)}", label_of(i)) for i in range(count)]


def test_the_table_is_senteval_s_seven_tasks_and_the_shipped_files_have_their_counts():
    assert list(TASKS) == ["MR", "CR", "SUBJ", "MPQA", "TREC", "SST-2", "MRPC"]
    assert [t.folds for t in TRANSFER_TASKS] == [10, 10, 10, 10, None, None, None]
    data = {d.task.name: d for d in load_transfer_suite(data_dir=SENTEVAL)}
    assert {name: len(d.labels) for name, d in data.items()} == {
        "MR": 10662, "CR": 3775, "SUBJ": 10000, "MPQA": 10606, "TREC": 5952, "SST-2": 70042, "MRPC": 5801}
    splits = {name: {s: len(d.rows(s)) for s in d.task.splits} for name, d in data.items() if d.task.splits}
    assert splits == {"TREC": {"train": 5452, "test": 500}, "SST-2": {"train": 67349, "dev": 872, "test": 1821},
                      "MRPC": {"train": 4076, "test": 1725}}
    assert [sum(1 for (text,) in data[name].texts if not text) for name in ("CR", "MPQA")] == [4, 3]  # kept
    assert sum(data["MR"].labels) == 5331 and sum(data["MPQA"].labels) == 3312
    assert set(data["TREC"].labels) == set(range(6)) and data["TREC"].task.labels[0] == "ABBR"
    assert data["MR"].texts[0][0].endswith(" ")  # verbatim, trailing space and all


def test_cross_validation_matches_a_naive_loop_and_separable_data_scores_100(tmp_path):
    rows = [(f"text {i}", int(i % 3 == 0)) for i in range(60)]
    write_task_file(tmp_path / "mr.tsv", ["text", "label"], rows)
    result = evaluate_transfer_suite(StubEncoder(), tasks=["MR"], data_dir=str(tmp_path))
    features = np.stack([vector(text) for text, _ in rows])
    labels = np.array([label for _, label in rows])
    naive = [100 * LogisticRegression(C=1.0, max_iter=1000).fit(features[train], labels[train])
             .score(features[test], labels[test])
             for train, test in StratifiedKFold(10, shuffle=True, random_state=0).split(features, labels)]
    (task,) = result.results
    assert task.fold_accuracies == pytest.approx(naive, abs=1e-9) and task.accuracy == pytest.approx(np.mean(naive))
    assert 40 < task.accuracy < 80  # random embeddings: about the majority class (2/3), not better
    separable = binary_rows(40)
    write_task_file(tmp_path / "mr.tsv", ["text", "label"], separable)
    assert evaluate_transfer_suite(StubEncoder(id_embedding), tasks=["MR"], data_dir=str(tmp_path)).average == 100.0


def test_random_labels_score_about_chance(tmp_path):
    rng = np.random.default_rng(1)
    rows = [(f"sentence {i}", int(rng.integers(2))) for i in range(300)]
    write_task_file(tmp_path / "subj.tsv", ["text", "label"], rows)
    result = evaluate_transfer_suite(StubEncoder(), tasks=["SUBJ"], data_dir=str(tmp_path))
    assert 40 < result.average < 60


def test_a_fit_never_sees_its_test_rows(tmp_path):
    Recorder.log = []
    rows = binary_rows(50, label_of=lambda i: int(i % 5 == 0))  # 10 rows of class 1: one per fold
    write_task_file(tmp_path / "cr.tsv", ["text", "label"], rows)
    splits = ["train"] * 30 + ["dev"] * 10 + ["test"] * 10
    write_task_file(tmp_path / "sst2.tsv", ["split", "text", "label"], [(s, *row) for s, row in zip(splits, rows)])
    result = evaluate_transfer_suite(StubEncoder(id_embedding), tasks=["CR", "SST-2"], data_dir=str(tmp_path),
                                     classifier=Recorder())
    cv, split = Recorder.log[:20], Recorder.log[20:]
    assert [kind for kind, _, _ in cv] == ["fit", "predict"] * 10
    tested = []
    for (_, fit_rows, _), (_, test_rows, _) in zip(cv[::2], cv[1::2]):
        assert not set(fit_rows) & set(test_rows) and sorted(fit_rows + test_rows) == list(range(50))
        assert sum(1 for row in test_rows if row % 5 == 0) == 1  # stratified: one of the 10 class-1 rows per fold
        tested += test_rows
    assert sorted(tested) == list(range(50))  # every row tested once
    assert [(kind, rows_) for kind, rows_, _ in split] == [("fit", list(range(30))), ("predict", list(range(40, 50))),
                                                          ("predict", list(range(30, 40)))]
    assert [r.accuracy for r in result.results] == [100.0, 100.0] and result.results[1].dev_accuracy == 100.0
    assert result.results[1].train_rows == 30


def test_pair_features_and_mrpc_accuracy_and_f1(tmp_path):
    u, v = np.array([[1.0, -2.0]]), np.array([[3.0, 0.5]])
    assert pair_features(u, v).tolist() == [[1.0, -2.0, 3.0, 0.5, 2.0, 2.5, 3.0, -1.0]]
    Recorder.log = []
    rng = np.random.default_rng(0)
    rows = [("train" if i < 40 else "test", f"first {i}", f"second {i % 7}", int(rng.integers(2))) for i in range(60)]
    write_task_file(tmp_path / "mrpc.tsv", ["split", "sentence1", "sentence2", "label"], rows)
    (result,) = evaluate_transfer_suite(StubEncoder(), tasks=["MRPC"], data_dir=str(tmp_path),
                                        classifier=Recorder()).results
    (_, _, fitted), (_, _, tested) = Recorder.log
    expected = np.stack([np.concatenate([vector(a), vector(b), np.abs(vector(a) - vector(b)), vector(a) * vector(b)])
                         for _, a, b, _ in rows])
    np.testing.assert_array_equal(fitted, expected[:40])
    np.testing.assert_array_equal(tested, expected[40:])
    labels = np.array([label for *_, label in rows])
    predicted = LogisticRegression(C=1.0, max_iter=1000).fit(expected[:40], labels[:40]).predict(expected[40:])
    assert result.accuracy == pytest.approx(100 * np.mean(predicted == labels[40:]))
    assert result.f1 == pytest.approx(100 * f1_score(labels[40:], predicted, pos_label=1))
    assert result.texts == 60 + 7  # the seven distinct second sentences, once each


def test_each_distinct_text_is_encoded_once_per_suite(tmp_path):
    rows = [(f"shared {i % 12}" if i < 24 else f"own {i}", i % 2) for i in range(40)]  # duplicates within MR
    write_task_file(tmp_path / "mr.tsv.gz", ["text", "label"], rows)
    sst = [("train", f"shared {i % 12}", i % 2) for i in range(12)] + [("test", "new", 1), ("dev", "other", 0)]
    write_task_file(tmp_path / "SST-2.tsv", ["split", "text", "label"], sst)
    encoder = StubEncoder()
    result = evaluate_transfer_suite(encoder, tasks=["MR", "SST-2"], data_dir=str(tmp_path))
    assert sorted(encoder.encoded) == sorted({text for text, _ in rows} | {"new", "other"})
    assert [(r.texts, r.encoded) for r in result.results] == [(28, 28), (14, 2)]


def test_max_train_rows_keeps_a_stratified_sample_of_train_only_on_a_split_task(tmp_path):
    rows = [("train", f"t {i}", int(i % 4 == 0)) for i in range(400)] + [("test", f"x {i}", i % 2) for i in range(30)]
    rows += [("dev", f"d {i}", i % 2) for i in range(4)]
    write_task_file(tmp_path / "sst2.tsv", ["split", "text", "label"], rows)
    (data,) = load_transfer_suite(["SST-2"], data_dir=str(tmp_path))
    sample = sample_train_rows(data, 100, seed=0)
    train = sample.rows("train")
    assert len(train) == 100 and sum(sample.labels[row] for row in train) == 25  # the 1-in-4 class ratio
    assert [sample.texts[row] for row in sample.rows("test")] == [(f"x {i}",) for i in range(30)]
    assert sample_train_rows(data, 100, seed=0) == sample and sample_train_rows(data, 1000, seed=0) is data
    encoder = StubEncoder()
    (result,) = evaluate_transfer_suite(encoder, tasks=["SST-2"], data_dir=str(tmp_path), max_train_rows=100).results
    assert result.train_rows == 100 and len(encoder.encoded) == 134
    assert "fit on train (100 rows)" in result.eval_results()[0].metric_name
    with pytest.raises(ValueError, match="`max_train_rows` must be a whole number >= 2 or None, got 0"):
        evaluate_transfer_suite(encoder, tasks=["SST-2"], data_dir=str(tmp_path), max_train_rows=0)


def test_max_train_rows_samples_a_cross_validated_task_so_that_no_fold_fits_on_more(tmp_path):
    rows = [(f"s {i}", int(i % 5 == 0)) for i in range(1000)]
    write_task_file(tmp_path / "mr.tsv", ["text", "label"], rows)
    (data,) = load_transfer_suite(["MR"], data_dir=str(tmp_path))
    sample = sample_train_rows(data, 180, seed=0)
    assert len(sample.labels) == 200 and sum(sample.labels) == 40 and sample.splits == ()  # 180 * 10 // 9, 1-in-5
    assert set(sample.texts) <= set(data.texts) and sample_train_rows(data, 900, seed=0) is data
    encoder = StubEncoder()
    (result,) = evaluate_transfer_suite(encoder, tasks=["MR"], data_dir=str(tmp_path), max_train_rows=180).results
    assert result.rows == 200 and len(encoder.encoded) == 200 and len(result.fold_accuracies) == 10
    splitter = StratifiedKFold(n_splits=10, shuffle=True, random_state=0)
    assert max(len(train) for train, _ in splitter.split(np.zeros(200), sample.labels)) == 180
    with pytest.raises(ValueError, match="`max_train_rows`=40 leaves MR 9 rows of class '1', fewer than its 10 "
                                         "cross-validation folds"):
        evaluate_transfer_suite(encoder, tasks=["MR"], data_dir=str(tmp_path), max_train_rows=40)


@pytest.mark.parametrize(("task", "text", "message"), [
    ("MR", "txt\tlabel\na\t1\n", r"mr.tsv: missing column\(s\) \['text'\] for MR; the header is \['txt', 'label'\]"),
    ("MR", "text\tlabel\na\t1\nb\tpositive\n", r"mr.tsv, line 3: `label` must be one of 0, 1 for MR, got 'positive'"),
    ("TREC", "split\ttext\tlabel\ntrain\tWhat ?\tHUM\ntest\tWho ?\tPERSON\n",
     r"trec.tsv, line 3: `label` must be one of ABBR, DESC, ENTY, HUM, LOC, NUM for TREC, got 'PERSON'"),
    ("TREC", "split\ttext\tlabel\ntrain\t \tHUM\n",
     r"trec.tsv, line 2: `text` is empty \(TREC allows no empty texts\), got ' '"),
    ("MRPC", "split\tsentence1\tsentence2\tlabel\ntrain\ta\t\t1\n", r"mrpc.tsv, line 2: `sentence2` is empty"),
    ("SST-2", "split\ttext\tlabel\nvalidation\ta\t1\n", r"sst2.tsv, line 2: `split` must be one of train, dev, test "
                                                        r"for SST-2, got 'validation'"),
    ("MR", "text\tlabel\na\t1\nb\tc\t0\n", r"mr.tsv, line 3: 3 tab-separated field\(s\), the header has 2 \(text, "
                                           r"label\); got 'b\\tc\\t0'"),
    ("MR", "text\tlabel\n" + "a\t1\n" * 12 + "b\t0\n" * 3, r"mr.tsv: MR is evaluated by 10-fold stratified "
                                                          r"cross-validation, which needs at least 10 rows of each "
                                                          r"class; it has \{'0': 3\}"),
    ("TREC", "split\ttext\tlabel\ntrain\ta\tHUM\ntrain\tb\tLOC\n", r"trec.tsv: no `test` rows for TREC"),
    ("TREC", "split\ttext\tlabel\ntrain\ta\tHUM\ntest\tb\tLOC\n", r"trec.tsv: the `train` rows of TREC are all of "
                                                                  r"class 'HUM'"),
    ("MR", "text\tlabel\n", r"mr.tsv: no rows for MR"),
])
def test_bad_files_name_the_file_line_and_value(tmp_path, task, text, message):
    path = tmp_path / f"{TASKS[task].file_stem}.tsv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_transfer_file(str(path), task)


def test_empty_texts_are_kept_where_senteval_keeps_them(tmp_path):
    rows = binary_rows(20) + [("", 1)]
    write_task_file(tmp_path / "cr.tsv", ["text", "label"], rows)
    encoder = StubEncoder(lambda text: vector(text or "<empty>"))
    (result,) = evaluate_transfer_suite(encoder, tasks=["CR"], data_dir=str(tmp_path)).results
    assert result.rows == 21 and "" in encoder.encoded


def test_without_local_files_the_error_says_how_to_give_them(tmp_path):
    with pytest.raises(TaskDataUnavailable, match=r"MR: the transfer tasks are local-only .*`--transfer-dir DIR`.*"
                                                  r"mr\.tsv, optionally \.gz, with text and label columns.*"
                                                  r"files=\{'MR': PATH\}.*benchmarks/data/senteval"):
        evaluate_transfer_suite(StubEncoder(), tasks=["MR"])
    with pytest.raises(FileNotFoundError, match=r"no file for MRPC; expected mrpc.tsv \(optionally .gz"):
        load_transfer_suite(["MRPC"], data_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"Unknown transfer task 'SST-5'; the known tasks are MR, CR, SUBJ"):
        load_transfer_suite(["SST-5"], data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="give either `folds`"):
        TransferTask("X", ("0", "1"))


@pytest.fixture()
def transfer_dir(tmp_path, sentences):
    """The seven tasks on the tiny model's vocabulary: small files in SentEval's format."""
    folder = tmp_path / "senteval"
    folder.mkdir()
    single = [(sentences[i % 32] + " " + sentences[(3 * i) % 32], i % 2) for i in range(40)]
    for name in ("MR", "CR", "SUBJ", "MPQA"):
        write_task_file(folder / f"{TASKS[name].file_stem}.tsv.gz", ["text", "label"], single)
    trec = TASKS["TREC"].labels
    write_task_file(folder / "trec.tsv", ["split", "text", "label"],
                    [("train" if i < 24 else "test", sentences[i], trec[i % 3]) for i in range(32)])
    write_task_file(folder / "sst2.tsv", ["split", "text", "label"],
                    [(("train", "dev", "test")[i % 3], sentences[i], i % 2) for i in range(32)])
    write_task_file(folder / "mrpc.tsv", ["split", "sentence1", "sentence2", "label"],
                    [("train" if i < 24 else "test", sentences[i], sentences[(i + 1) % 32], i % 2) for i in range(32)])
    return folder


@pytest.fixture()
def sts_dir(tmp_path, sentences):
    folder = tmp_path / "sts"
    folder.mkdir()
    (folder / "sts12.tsv").write_text("sentence1\tsentence2\tscore\n" + "".join(
        f"{a}\t{b}\t{i % 5}\n" for i, (a, b) in enumerate(zip(sentences[:16], sentences[16:]))))
    return folder


def test_results_round_trip_into_the_card_and_model_index(tiny_encoder_dir, transfer_dir, sts_dir):
    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    base = build_sentence_transformer(tiny_encoder_dir, pooler="cls")
    suites = [evaluate_sts_suite(model, tasks=["STS12"], data_dir=str(sts_dir)),
              evaluate_transfer_suite(model, data_dir=str(transfer_dir))]
    base_suites = [evaluate_sts_suite(base, tasks=["STS12"], data_dir=str(sts_dir)),
                   evaluate_transfer_suite(base, data_dir=str(transfer_dir))]
    results, aggregation = evaluation_results(suites)
    assert len(results) == 1 + 7 + 2  # STS12; seven accuracies, SST-2 dev, MRPC F1
    assert aggregation.startswith("STS suite: Spearman") and "Transfer suite: accuracy x100 of a scikit-learn" in \
        aggregation
    card = CardData(model_name="me/m", method="SimCSE", model_id="me/m", embedding_dimension=16)
    set_evaluation(card, suites, base_suites)
    text = render_card(card)
    parsed = ModelCard(text).data.eval_results
    _, direct = model_index_to_eval_results(ModelCard(text).data.to_dict()["model-index"])
    assert len(parsed) == len(direct) == 10
    transfer = suites[1]
    for original, back in zip(results, parsed):
        assert (back.task_type, back.dataset_type, back.dataset_name, back.dataset_split, back.metric_type) == (
            original.task_type, original.dataset_type, original.dataset_name, original.dataset_split,
            original.metric_type)
        assert back.metric_value == pytest.approx(original.metric_value)
    accuracies = [r for r in parsed if r.metric_type == "accuracy" and r.dataset_split == "test"]
    assert [r.dataset_type for r in accuracies] == [f"senteval-{t.file_stem}" for t in TRANSFER_TASKS]
    assert [r.metric_value for r in accuracies] == pytest.approx([transfer.scores[t.name] for t in TRANSFER_TASKS],
                                                                 abs=1e-4)
    assert {(r.dataset_name, r.dataset_split, r.metric_type) for r in parsed if r not in accuracies} == {
        ("STS12", "test", "cosine_spearman"), ("SST-2", "validation", "accuracy"), ("MRPC", "test", "f1")}
    change = transfer.average - base_suites[1].average
    assert (f"| **Average (accuracy)** | | | **{transfer.average:.2f}** | **{base_suites[1].average:.2f}** | "
            f"**{change:+.2f}** |") in text
    assert "Average (cosine_spearman)" not in text  # one STS task: nothing to average
    mr = transfer.results[0]
    assert f"| MR | test | Accuracy x100, mean of 10 stratified test folds | {mr.accuracy:.2f} |" in text
    assert aggregation in text
    assert set(eval_results_files(card)) == {".eval_results/STS12.yaml"}  # senteval-* are not Hub datasets


def test_evaluation_results_takes_a_suite_a_list_eval_results_or_none(tiny_encoder_dir, transfer_dir):
    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    suite = evaluate_transfer_suite(model, tasks=["TREC"], data_dir=str(transfer_dir))
    assert evaluation_results(None) == ([], None)
    assert evaluation_results(suite) == (suite.eval_results(), suite.aggregation)
    assert evaluation_results([suite]) == (suite.eval_results(), suite.aggregation)
    assert evaluation_results(suite.eval_results()) == (suite.eval_results(), None)
    with pytest.raises(TypeError, match="got dict"):
        evaluation_results([{"accuracy": 1.0}])


def test_cli_eval_transfer_and_both_suites(tiny_encoder_dir, transfer_dir, sts_dir, tmp_path, capsys):
    build_sentence_transformer(tiny_encoder_dir, pooler="avg").save(str(tmp_path / "m"))
    assert main(["eval", str(tmp_path / "m"), "--suite", "transfer", "--transfer-dir", str(transfer_dir)]) == 0
    out = capsys.readouterr().out
    assert "Transfer suite" in out and "accuracy x100" in out and "texts/s" in out
    for task in TRANSFER_TASKS:
        assert f"\n{task.name} " in out
    assert "\naverage " in out and "Aggregation: accuracy x100 of a scikit-learn LogisticRegression" in out
    assert main(["eval", str(tmp_path / "m"), "--suite", "sts", "transfer", "--sts-dir", str(sts_dir),
                 "--transfer-dir", str(transfer_dir), "--tasks", "STS12", "MRPC", "mr"]) == 0
    out = capsys.readouterr().out
    assert "STS suite" in out and "Transfer suite" in out and "\nSTS12 " in out and "\nMRPC " in out
    assert "\nMR " in out and "\nCR " not in out and "\nSTS13 " not in out


def test_cli_eval_transfer_errors(tiny_encoder_dir, transfer_dir, tmp_path, capsys):
    build_sentence_transformer(tiny_encoder_dir, pooler="avg").save(str(tmp_path / "m"))
    assert main(["eval", str(tmp_path / "m"), "--suite", "transfer", "--tasks", "MR"]) == 2
    err = capsys.readouterr().err
    assert "--transfer-dir DIR" in err and "mr.tsv" in err
    assert main(["eval", str(tmp_path / "m"), "--suite", "sts", "transfer", "--transfer-dir", str(transfer_dir),
                 "--tasks", "STS17"]) == 2
    assert "Unknown task(s) ['STS17']; the known tasks are sts: STS12" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "m"), "--suite", "sts", "--transfer-dir", str(transfer_dir)]) == 2
    assert "apply to the `transfer` suite only" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "m"), "--transfer-dir", str(transfer_dir)]) == 2
    assert "apply to `--suite` only" in capsys.readouterr().err


def test_the_base_model_is_evaluated_on_the_same_data_when_it_loads(tiny_encoder_dir, transfer_dir, tmp_path, caplog):
    build_sentence_transformer(tiny_encoder_dir, pooler="cls").save(str(tmp_path / "base"))
    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    data = load_suites(["transfer"], ["TREC"], transfer_dir=str(transfer_dir))
    results, base = evaluate_with_base(model, str(tmp_path / "base"), data)
    assert [r.title for r in base] == ["Transfer suite"] and base[0].scores.keys() == results[0].scores.keys()
    with caplog.at_level(logging.WARNING):
        results, base = evaluate_with_base(model, str(tmp_path / "missing"), data)
    assert base is None and "could not be loaded" in caplog.text and results[0].scores


def test_cli_push_evaluates_the_release(tiny_encoder_dir, sentences, transfer_dir, tmp_path, quiet_args, monkeypatch):
    from datasets import Dataset

    from hf_contrastive import SimCSEConfig, SimCSETrainer

    args = SimCSEConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=8, **quiet_args)
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
    trainer.train()
    trainer.save_model()
    pushed = []
    monkeypatch.setattr("hf_contrastive.hub.push.push_release",
                        lambda folder, repo_id, **kwargs: pushed.append(folder) or type(
                            "Commit", (), {"pr_url": None, "commit_url": "local"})())
    assert main(["push", str(tmp_path / "out"), "me/m", "--evaluate", "transfer", "--transfer-dir",
                 str(transfer_dir), "--tasks", "TREC", "MRPC"]) == 0
    card = ModelCard((tmp_path / "out" / "release" / "README.md").read_text())
    assert [(r.dataset_name, r.metric_type) for r in card.data.eval_results] == [
        ("TREC", "accuracy"), ("MRPC", "accuracy"), ("MRPC", "f1")]
    assert "Transfer suite" not in card.text and "accuracy x100 of a scikit-learn LogisticRegression" in card.text
    assert pushed == [str(tmp_path / "out" / "release")]
