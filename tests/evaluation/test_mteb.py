"""mteb's own STS tasks on local data (the optional `mteb` extra): the same Spearman as the STS suite, as EvalResults."""

import pytest

from hf_contrastive import evaluate_sts_suite
from hf_contrastive.modeling import build_sentence_transformer

mteb = pytest.importorskip("mteb")


@pytest.fixture()
def sts_dir(tmp_path, sentences):
    for name, offset in (("sts12.tsv", 0), ("sickr.tsv", 1)):
        rows = [f"{a}\t{b}\t{1 + (i * 7 + offset) % 5}" for i, (a, b) in enumerate(zip(sentences[:16], sentences[16:]))]
        (tmp_path / name).write_text("sentence1\tsentence2\tscore\n" + "\n".join(rows) + "\n")
    return str(tmp_path)


def test_mteb_on_local_data_agrees_with_the_sts_suite(tiny_encoder_dir, sts_dir):
    from huggingface_hub import ModelCard, ModelCardData

    from hf_contrastive.evaluation.mteb import run_mteb

    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    results = run_mteb(model, ["STS12", "SICK-R"], data_dir=sts_dir)
    suite = evaluate_sts_suite(model, tasks=["STS12", "SICK-R"], data_dir=sts_dir)
    by_dataset = {r.dataset_type: r for r in results}
    assert set(by_dataset) == {"mteb/sts12-sts", "mteb/sickr-sts"}
    assert by_dataset["mteb/sts12-sts"].metric_value == pytest.approx(suite.scores["STS12"], abs=1e-3)
    assert by_dataset["mteb/sickr-sts"].metric_value == pytest.approx(suite.scores["SICK-R"], abs=1e-3)
    assert all(r.dataset_revision is None and r.metric_type == "cosine_spearman" and r.dataset_split == "test"
               for r in results), "local data: no Hub revision claimed"
    card = ModelCard(f"---\n{ModelCardData(model_name='m', eval_results=results).to_yaml()}\n---\n")
    assert len(card.data.eval_results) == 2


def test_local_data_for_a_non_sts_task_is_refused():
    from hf_contrastive.evaluation.mteb import local_task

    with pytest.raises(ValueError, match="Local data is supported for STS tasks"):
        local_task("Banking77Classification", ["a"], ["b"], [1.0])
