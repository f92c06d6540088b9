import json

import pytest
from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

from hf_contrastive.evaluation import STSEvaluator, load_stsb, read_sts_file


@pytest.fixture()
def pairs(sentences):
    first, second = sentences[:16], sentences[16:32]
    scores = [float((i * 7) % 6) for i in range(16)]
    return first + first[:4], second + second[:4][::-1], scores + [1.0, 2.0, 3.0, 4.0]


def test_agrees_with_sentence_transformers_evaluator(model, pairs):
    ours = STSEvaluator(*pairs, name="sts-dev")(model)
    peer = EmbeddingSimilarityEvaluator(*pairs, name="sts-dev", similarity_fn_names=["cosine"])(model)
    assert set(ours) == {"sts-dev_pearson_cosine", "sts-dev_spearman_cosine"}
    for key, value in ours.items():
        assert value == pytest.approx(peer[key], abs=1e-6)


def test_each_distinct_sentence_is_encoded_once(model, pairs):
    calls = []
    original = model.encode
    model.encode = lambda texts, **kw: calls.append(list(texts)) or original(texts, **kw)
    STSEvaluator(*pairs)(model)
    assert len(calls) == 1
    assert sorted(calls[0]) == sorted(set(pairs[0] + pairs[1]))


def test_primary_metric_and_model_card(model, pairs):
    evaluator = STSEvaluator(*pairs, name="sts-dev")
    evaluator(model)
    assert evaluator.primary_metric == "sts-dev_spearman_cosine"
    assert model.model_card_data.eval_results_dict[evaluator]


def test_shipped_stsb_splits():
    dev, test = load_stsb("dev"), load_stsb("test")
    assert (len(dev), len(test)) == (1500, 1379)
    assert dev.column_names == ["sentence1", "sentence2", "score"]
    assert dev[0]["sentence1"] == "A man with a hard hat is dancing." and dev[0]["score"] == 5.0
    with pytest.raises(ValueError, match="'train'"):
        load_stsb("train")


@pytest.mark.parametrize("kind", ["tsv", "csv", "jsonl"])
def test_read_sts_file_formats(tmp_path, kind):
    rows = [("A cat sits.", "A cat is sitting.", 4.5), ('He said "hi".', "Nobody spoke.", 0.5)]
    path = tmp_path / f"sts.{kind}"
    if kind == "jsonl":
        path.write_text("\n".join(json.dumps({"sentence1": a, "sentence2": b, "score": s}) for a, b, s in rows))
    elif kind == "tsv":  # STS-B's own layout: tabs, no quoting (quotes are literal characters)
        path.write_text("sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows))
    else:
        import csv

        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["sentence1", "sentence2", "score"])
            writer.writerows(rows)
    data = read_sts_file(str(path))
    assert data == {"sentence1": [r[0] for r in rows], "sentence2": [r[1] for r in rows], "score": [4.5, 0.5]}


def test_bad_score_names_file_line_and_value(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("sentence1\tsentence2\tscore\na\tb\t3.0\nc\td\tfive\n")
    with pytest.raises(ValueError, match=r"bad.tsv, line 3: `score` must be a number, got 'five'"):
        read_sts_file(str(path))


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("s1,s2,score\na,b,1\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['sentence1', 'sentence2'\]"):
        read_sts_file(str(path))
