import csv
import gzip
import json

import numpy as np
import pytest
from huggingface_hub import ModelCard, ModelCardData
from huggingface_hub.repocard_data import model_index_to_eval_results
from scipy import stats

from hf_contrastive.cli import main
from hf_contrastive.evaluation import (
    STS_TASKS,
    STSDataUnavailable,
    STSTask,
    evaluate_sts_suite,
    find_sts_task_file,
    load_sts_task,
)
from hf_contrastive.errors import DataError
from hf_contrastive.modeling import build_sentence_transformer
from tests.helpers.bad_input import TSV, Env, assert_named_before_training

# One file per task, named after it in several spellings and formats (the naming ignores case and punctuation).
FILE_NAMES = {"STS12": "sts12.tsv", "STS13": "STS13.csv", "STS14": "sts14.jsonl", "STS15": "sts15.tsv.gz",
              "STS16": "sts16.csv", "STSBenchmark": "stsbenchmark.jsonl", "SICK-R": "sick-r.tsv"}


def task_pairs(sentences, index: int, count: int = 6) -> list[tuple[str, str, float]]:
    """`count` distinct pairs for the index-th task, gold scores on 0-5 with some ties."""
    return [(sentences[(3 * index + k) % 16], sentences[16 + (5 * index + 2 * k) % 16], float((7 * k + index) % 6))
            for k in range(count)]


def write_sts_file(path, rows) -> None:
    name = str(path)[:-3] if str(path).endswith(".gz") else str(path)
    if name.endswith(".jsonl"):
        text = "".join(json.dumps({"sentence1": a, "sentence2": b, "score": s}) + "\n" for a, b, s in rows)
    elif name.endswith(".tsv"):
        text = "sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows)
    else:
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["score", "sentence1", "sentence2", "genre"])  # column order and extras do not matter
            writer.writerows([(s, a, b, "x") for a, b, s in rows])
        return
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text)


@pytest.fixture()
def sts_dir(tmp_path, sentences):
    folder = tmp_path / "sts"
    folder.mkdir()
    for index, task in enumerate(STS_TASKS):
        write_sts_file(folder / FILE_NAMES[task.name], task_pairs(sentences, index))
    (folder / "README.md").write_text("other files are ignored\n")
    return folder


def naive_spearman_x100(model, rows) -> float:
    first = model.encode([a for a, _, _ in rows], convert_to_numpy=True).astype(np.float64)
    second = model.encode([b for _, b, _ in rows], convert_to_numpy=True).astype(np.float64)
    cosine = (first * second).sum(1) / (np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1))
    return 100 * stats.spearmanr([s for _, _, s in rows], cosine)[0]


def test_registry_has_the_seven_protocol_tasks_with_pinned_revisions():
    assert [t.name for t in STS_TASKS] == ["STS12", "STS13", "STS14", "STS15", "STS16", "STSBenchmark", "SICK-R"]
    assert [t.hub_id for t in STS_TASKS] == ["mteb/sts12-sts", "mteb/sts13-sts", "mteb/sts14-sts", "mteb/sts15-sts",
                                            "mteb/sts16-sts", "mteb/stsbenchmark-sts", "mteb/sickr-sts"]
    assert all(t.split == "test" and len(t.revision) == 40 for t in STS_TASKS)
    assert [t.file_stem for t in STS_TASKS][-2:] == ["stsbenchmark", "sickr"]
    with pytest.raises(AttributeError):
        STS_TASKS[0].revision = "main"  # frozen


def test_suite_matches_a_naive_computation(model, sts_dir, sentences):
    result = evaluate_sts_suite(model, data_dir=str(sts_dir), batch_size=4)
    assert [r.task.name for r in result.results] == [t.name for t in STS_TASKS]
    for index, task_result in enumerate(result.results):
        rows = task_pairs(sentences, index)
        assert task_result.spearman == pytest.approx(naive_spearman_x100(model, rows), abs=1e-9)
        assert task_result.pairs == len(rows)
        assert task_result.seconds > 0 and task_result.pairs_per_second == task_result.pairs / task_result.seconds
        assert task_result.source == str(sts_dir / FILE_NAMES[task_result.task.name])
        assert task_result.revision is None  # local data: no Hub revision is claimed
    assert result.average == pytest.approx(np.mean([r.spearman for r in result.results]), abs=1e-12)
    assert "equal weight per task" in result.aggregation
    summary = json.loads(json.dumps(result.to_dict()))
    assert summary["average_spearman_cosine_x100"] == result.average
    assert [t["task"] for t in summary["tasks"]] == [t.name for t in STS_TASKS]


def test_subset_explicit_files_and_custom_tasks(model, sts_dir, tmp_path, sentences):
    extra = tmp_path / "elsewhere.csv"
    write_sts_file(extra, task_pairs(sentences, 9))
    result = evaluate_sts_suite(model, tasks=["sick_r", "sts-12"], data_dir=str(sts_dir), files={"SICK-R": str(extra)})
    assert list(result.scores) == ["SICK-R", "STS12"]
    assert result.results[0].source == str(extra)
    assert result.scores["SICK-R"] == pytest.approx(naive_spearman_x100(model, task_pairs(sentences, 9)), abs=1e-9)
    mine = STSTask("MySTS", "me/my-sts", split="test")
    custom = evaluate_sts_suite(model, tasks=[mine], files={"mysts": str(extra)})
    assert custom.scores["MySTS"] == result.scores["SICK-R"]


def test_unknown_and_repeated_task_names_are_rejected(model, sts_dir):
    known = "STS12, STS13, STS14, STS15, STS16, STSBenchmark, SICK-R"
    with pytest.raises(ValueError, match=f"Unknown STS task 'STS17'; the known tasks are {known}"):
        evaluate_sts_suite(model, tasks=["STS12", "STS17"], data_dir=str(sts_dir))
    with pytest.raises(ValueError, match=r"\['STS12'\] selected more than once"):
        evaluate_sts_suite(model, tasks=["STS12", "sts12"], data_dir=str(sts_dir))
    with pytest.raises(ValueError, match=r"`files` names 'STS13', which is not among the tasks evaluated \(STS12\)"):
        evaluate_sts_suite(model, tasks=["STS12"], data_dir=str(sts_dir), files={"STS13": "x.tsv"})


def test_data_dir_naming(tmp_path, sts_dir):
    assert find_sts_task_file(str(sts_dir), "SICK-R").endswith("sick-r.tsv")
    assert find_sts_task_file(str(sts_dir), "sts-b").endswith("stsbenchmark.jsonl")  # an alias
    (sts_dir / "STS12.csv").write_text("sentence1,sentence2,score\na,b,1\n")
    with pytest.raises(ValueError, match=r"several files for STS12: \['STS12.csv', 'sts12.tsv'\]"):
        find_sts_task_file(str(sts_dir), "STS12")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"no file for SICK-R; expected sickr.tsv, .csv or .jsonl"):
        find_sts_task_file(str(empty), "SICK-R")
    with pytest.raises(FileNotFoundError, match="no such directory"):
        find_sts_task_file(str(tmp_path / "missing"), "STS12")


@pytest.mark.parametrize(("file_name", "text", "message"), [
    ("sts13.csv", "sentence1,sentence2,score\na,b,1\nc,d,high\n", r"sts13.csv, line 3: `score` must be a number, "
                                                                   r"got 'high'"),
    ("sts13.tsv", "sentence1\tscore\na\t1\n", r"sts13.tsv: missing column\(s\) \['sentence2'\]"),
    ("sts13.tsv", "sentence1\tsentence2\tscore\na\tb\t1\nc\t2\n", r"sts13.tsv, line 3: `score` must be a number, "
                                                                  r"got None"),
    ("sts13.jsonl", '{"sentence1": "a", "sentence2": "b", "score": 1}\n["c", "d", 2]\n',
     r"sts13.jsonl, line 2: expected a JSON object"),
    ("sts13.jsonl", '{"sentence1": "a", "sentence2": "b", "score": 1}\n{"sentence1": "c", "score": 2\n',
     r"sts13.jsonl, line 2: not valid JSON"),
    ("sts13.jsonl", '{"sentence1": "a", "sentence2": 7, "score": 1}\n', r"sts13.jsonl, line 1: `sentence2` must be a "
                                                                        r"string, got 7"),
    ("sts13.csv", "sentence1,sentence2,score\na,b,2\nc,d,2\n", r"sts13.csv: `score` is 2.0 for all 2 pairs of STS13"),
    ("sts13.csv", "sentence1,sentence2,score\na,b,2\n", r"sts13.csv: STS13 needs at least 2 pairs, got 1"),
])
def test_malformed_files_name_the_file_line_and_field(model, tmp_path, file_name, text, message):
    (tmp_path / file_name).write_text(text)
    with pytest.raises(ValueError, match=message):
        evaluate_sts_suite(model, tasks=["STS13"], data_dir=str(tmp_path))


def sts_loader(name, text):
    return lambda env: load_sts_task("STS12", file=env.write(name, text))


BAD_FILES = [  # (id, call, error type, regex of the message)
    ("sts-loader-non-numeric-score", sts_loader("sts12.tsv", TSV + "a cat\ta dog\t4\nthe man\ta man\thigh\n"),
     DataError, r"sts12\.tsv, line 3: `score` must be a number, got 'high'"),
    ("sts-loader-empty-score", sts_loader("sts12.csv", "sentence1,sentence2,score\na cat,a dog,\n"), DataError,
     r"sts12\.csv, line 2: `score` must be a number, got ''"),
    ("sts-loader-missing-score-field", sts_loader("sts12.tsv", TSV + "a cat\ta dog\n"), DataError,
     r"sts12\.tsv, line 2: `score` must be a number, got None"),
    ("sts-loader-nan-score", sts_loader("sts12.tsv", TSV + "a cat\ta dog\tnan\n"), DataError,
     r"sts12\.tsv, line 2: `score` must be finite, got 'nan'"),
    ("sts-loader-boolean-score", sts_loader("sts12.jsonl", '{"sentence1": "a", "sentence2": "b", "score": true}\n'),
     DataError, r"sts12\.jsonl, line 1: `score` must be a number, got True"),
    ("sts-loader-constant-scores", sts_loader("sts12.tsv", TSV + "a cat\ta dog\t3\nthe man\ta man\t3\n"), DataError,
     r"`score` is 3\.0 for all 2 pairs of STS12"),
]


@pytest.mark.parametrize("call,error,message", [pytest.param(*case[1:], id=case[0]) for case in BAD_FILES])
def test_bad_scores_are_data_errors_naming_the_file_line_and_value(call, error, message, tiny_encoder_dir, tmp_path,
                                                                   quiet_args):
    assert_named_before_training(call, Env(tiny_encoder_dir, tmp_path, quiet_args), error, message)


def test_offline_hub_loading_says_how_to_give_local_files(model):
    with pytest.raises(STSDataUnavailable, match=r"STS12: cannot load mteb/sts12-sts \(revision a0d554a6.*--sts-dir"):
        evaluate_sts_suite(model, tasks=["STS12"])


def test_offline_stsbenchmark_falls_back_to_the_shipped_test_split():
    data = load_sts_task("STSBenchmark")
    assert len(data.score) == 1379 and data.revision is None
    assert data.source.startswith("shipped STS-B test")


def test_eval_results_round_trip_through_model_card_metadata(model, sts_dir):
    result = evaluate_sts_suite(model, tasks=["STS12", "SICK-R"], data_dir=str(sts_dir))
    results = result.eval_results(source_url="https://huggingface.co/user/model")
    card_data = ModelCardData(eval_results=results, model_name="tiny")
    card = ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n# tiny\n")
    assert card.data.model_name == "tiny"
    parsed = card.data.eval_results
    model_name, direct = model_index_to_eval_results(card_data.to_dict()["model-index"])
    assert model_name == "tiny" and len(direct) == len(parsed) == 2
    for original, back in zip(results, parsed):
        assert (back.task_type, back.dataset_type, back.dataset_name, back.dataset_split, back.metric_type) == (
            "sentence-similarity", original.dataset_type, original.dataset_name, "test", "cosine_spearman")
        assert back.metric_value == pytest.approx(original.metric_value)
        assert (back.source_name, back.source_url) == ("hf_contrastive", "https://huggingface.co/user/model")
    assert [r.dataset_type for r in parsed] == ["mteb/sts12-sts", "mteb/sickr-sts"]
    assert parsed[0].metric_value == pytest.approx(result.scores["STS12"], abs=1e-4)
    assert result.eval_results()[0].source_name is None  # the Hub requires a URL with a source name


def test_cli_suite_prints_the_table(tiny_encoder_dir, sts_dir, tmp_path, capsys):
    build_sentence_transformer(tiny_encoder_dir, pooler="avg").save(str(tmp_path / "m"))
    assert main(["eval", str(tmp_path / "m"), "--suite", "sts", "--sts-dir", str(sts_dir)]) == 0
    out = capsys.readouterr().out
    assert "Spearman x100" in out and "pairs/s" in out
    for task in STS_TASKS:
        assert f"\n{task.name} " in out
    assert "\naverage " in out and "Aggregation: Spearman correlation of cosine similarity x100" in out
    assert main(["eval", str(tmp_path / "m"), "--suite", "sts", "--sts-dir", str(sts_dir), "--tasks", "STS12"]) == 0
    assert "STS13" not in capsys.readouterr().out


def test_cli_suite_errors(tiny_encoder_dir, tmp_path, capsys):
    build_sentence_transformer(tiny_encoder_dir, pooler="avg").save(str(tmp_path / "m"))
    assert main(["eval", str(tmp_path / "m"), "--suite", "sts", "--tasks", "STS12"]) == 2
    err = capsys.readouterr().err
    assert "--sts-dir DIR" in err and "sts12.tsv" in err
    assert main(["eval", str(tmp_path / "m"), "--suite", "sts", "--tasks", "STS17"]) == 2
    assert "Unknown STS task 'STS17'" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "m"), "--tasks", "STS12"]) == 2
    assert "apply to `--suite` only" in capsys.readouterr().err
