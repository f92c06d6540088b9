import io
import logging
import sys

import pytest
import yaml
from datasets import Dataset, DatasetDict, DatasetInfo
from huggingface_hub import EvalResult, ModelCard

from hf_contrastive.hub.card import card_from_json, card_to_json, eval_results_files, render_card, write_card
from hf_contrastive.data.loading import load_text_dataset
from hf_contrastive.hub.card_data import (LIBRARY_CITATION, CardData, base_scores, history_summary, set_training_dataset_id,
                                          training_data)
from hf_contrastive.hub.plot import curve_figure, curve_png

def result(name, dataset_id, value, revision=None):
    return EvalResult(task_type="sentence-similarity", dataset_type=dataset_id, dataset_name=name,
                      dataset_split="test", dataset_revision=revision, metric_type="spearman_cosine",
                      metric_name="Spearman (cosine) x100", metric_value=value)


def full_card() -> CardData:
    return CardData(
        model_name="me/simcse-minilm", method="SimCSE", base_model="sentence-transformers/all-MiniLM-L6-v2",
        model_id="me/simcse-minilm", paper={"title": "SimCSE: Simple Contrastive Learning of Sentence Embeddings",
                                            "id": "2104.08821"},
        objective={"temperature": 0.05, "hard_negative_weight": 0.0, "mlp_only_train": True, "do_mlm": False},
        architecture="Transformer → Pooling (cls)", embedding_dimension=384, max_seq_length=256,
        similarity="cosine", training_data=[{"name": "wiki1m sample", "rows": 3200, "columns": ["text"]}],
        hyperparameters={"learning_rate": 3e-05, "per_device_train_batch_size": 64, "steps": 50, "seed": 42,
                         "precision": "fp32", "warmup_steps": None},
        eval_results=[result("STSBenchmark", "mteb/stsbenchmark-sts", 83.16, "b0fddb56ed78048fa8b90373c8a3cfc37b684831"),
                      result("SICK-R", "mteb/sickr-sts", 79.5)],
        aggregation="Spearman correlation of cosine similarity x100 on each test split; average with equal weights.",
        base_scores={"STSBenchmark (test, spearman_cosine)": 82.03,  # keyed by dataset, split and metric
                     "SICK-R (test, spearman_cosine)": 80.0},
        training_metrics={"eval_sts-dev_spearman_cosine": 0.8719}, start_metrics={"eval_sts-dev_spearman_cosine": 0.8672},
        curve={"file": "training_curve.png", "steps": 50, "loss": (0.1, 0.005),
               "metric": ("eval_sts-dev_spearman_cosine", 0.8672, 0.8719)},
        lora={"r": 8, "alpha": 16, "dropout": 0.05, "target_modules": ["query", "value"], "trainable": 73728,
              "total": 22786944},
        release="merged", versions={"Python": "3.11.7", "hf_contrastive": "0.1.0"},
        citations=["@inproceedings{gao2021simcse, title={SimCSE}}", LIBRARY_CITATION],
        tags=["sentence-transformers", "sentence-similarity", "hf-contrastive", "simcse"], license="apache-2.0",
        language=["en"],
    )


def test_model_index_parses_with_the_hub_parser():
    card = ModelCard(render_card(full_card()))
    assert card.data.library_name == "sentence-transformers" and card.data.pipeline_tag == "sentence-similarity"
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert {"hf-contrastive", "simcse"} <= set(card.data.tags)
    parsed = {(r.dataset_type, r.dataset_revision, r.metric_value) for r in card.data.eval_results}
    assert parsed == {("mteb/stsbenchmark-sts", "b0fddb56ed78048fa8b90373c8a3cfc37b684831", 83.16),
                      ("mteb/sickr-sts", None, 79.5)}


def test_base_scores_average_and_change_are_shown():
    text = render_card(full_card())
    assert "| 83.16 | 82.03 | +1.13 |" in text and "| **81.33** | **81.02** | **+0.31** |" in text


def test_each_metric_and_split_is_averaged_apart_and_compared_with_its_own_base_value():
    def entry(name, dataset, split, metric, value):
        return EvalResult(task_type="text-classification" if metric != "cosine_spearman" else "sentence-similarity",
                          dataset_type=dataset, dataset_name=name, dataset_split=split, metric_type=metric,
                          metric_value=value)

    results = [entry("STS12", "mteb/sts12-sts", "test", "cosine_spearman", 70.0),
               entry("STS13", "mteb/sts13-sts", "test", "cosine_spearman", 80.0),
               entry("MRPC", "glue/mrpc", "test", "accuracy", 72.0), entry("MRPC", "glue/mrpc", "test", "f1", 81.0),
               entry("TREC", "senteval-trec", "test", "accuracy", 90.0),
               entry("SST-2", "senteval-sst2", "validation", "accuracy", 79.0)]
    base = [entry("MRPC", "glue/mrpc", "test", "accuracy", 70.0), entry("MRPC", "glue/mrpc", "test", "f1", 80.0),
            entry("TREC", "senteval-trec", "test", "accuracy", 86.0)]
    card = CardData(model_name="m", method="SimCSE", embedding_dimension=16, eval_results=results,
                    base_scores=base_scores(base))
    text = render_card(card)
    mrpc = "| [MRPC](https://huggingface.co/datasets/glue/mrpc) | test |"
    assert f"{mrpc} accuracy | 72.00 | 70.00 | +2.00 |" in text and f"{mrpc} f1 | 81.00 | 80.00 | +1.00 |" in text
    assert "| TREC | test | accuracy | 90.00 | 86.00 | +4.00 |" in text  # a local-only dataset is not linked
    assert "| [STS12](https://huggingface.co/datasets/mteb/sts12-sts) | test | cosine_spearman | 70.00 |  |  |" in text
    assert "| **Average (cosine_spearman)** | | | **75.00** | |  |" in text
    assert "| **Average (accuracy)** | | | **81.00** | **78.00** | **+3.00** |" in text
    assert text.count("**Average") == 2  # not F1 (one result), not SST-2 dev (another split)
    files = eval_results_files(card)
    assert set(files) == {".eval_results/STS12.yaml", ".eval_results/STS13.yaml", ".eval_results/MRPC.yaml"}
    assert [e["notes"].split(",")[0] for e in yaml.safe_load(files[".eval_results/MRPC.yaml"])] == ["accuracy", "f1"]


def test_sections_without_data_are_left_out():
    text = render_card(CardData(model_name="m", method="DeCLUTR", embedding_dimension=16, architecture="Transformer"))
    for absent in ("## Evaluation", "## Training data", "## LoRA", "Training curve", "classifier", "## Citation",
                   "Base model", "peft", "None"):
        assert absent not in text, absent
    assert "## Usage" in text and "## Training objective" in text


def test_eval_results_files_use_the_hub_format():
    files = eval_results_files(full_card())
    assert set(files) == {".eval_results/STSBenchmark.yaml", ".eval_results/SICK-R.yaml"}
    (entry,) = yaml.safe_load(files[".eval_results/STSBenchmark.yaml"])
    assert entry["dataset"] == {"id": "mteb/stsbenchmark-sts", "task_id": "default",
                                "revision": "b0fddb56ed78048fa8b90373c8a3cfc37b684831"}
    assert entry["value"] == 83.16 and "evaluated by hf_contrastive" in entry["notes"]


def test_card_data_survives_json():
    card = full_card()
    back = card_from_json(card_to_json(card))
    assert render_card(back) == render_card(card)


def test_a_template_error_raises_and_writes_nothing(tmp_path):
    card = full_card()
    card.objective = None  # the template iterates it
    with pytest.raises(Exception):
        write_card(str(tmp_path), card)
    assert list(tmp_path.iterdir()) == []


CURVE = {"loss": [(10, 2.0), (20, 1.2), (30, 0.9)], "eval_loss": [(0, 2.2), (30, 1.1)],
         "eval_sts-dev_spearman_cosine": [(0, 0.61), (15, 0.74), (30, 0.79)]}


def test_training_curve_plots_every_series_on_labelled_axes():
    pytest.importorskip("matplotlib")
    figure = curve_figure(CURVE, "SimCSE fine-tuning of org/base")
    loss, scores = figure.axes
    assert figure.get_suptitle() == "SimCSE fine-tuning of org/base"
    assert [axes.get_xlabel() for axes in (loss, scores)] == ["optimizer step", "optimizer step"]
    assert loss.get_ylabel() == "loss (nats)" and scores.get_ylabel().startswith("score")
    drawn = {line.get_label(): list(zip(*line.get_data())) for axes in (loss, scores) for line in axes.get_lines()}
    assert drawn == {"training loss": CURVE["loss"], "evaluation loss": CURVE["eval_loss"],
                     "sts-dev spearman_cosine": CURVE["eval_sts-dev_spearman_cosine"]}
    assert [text.get_text() for text in scores.get_legend().get_texts()] == ["sts-dev spearman_cosine"]
    assert len(curve_figure({"loss": CURVE["loss"]}, "t").axes) == 1  # one kind logged: one panel
    with pytest.raises(ValueError, match="at least one logged value"):
        curve_figure({"loss": [], "eval_accuracy": []}, "t")


def test_training_curve_png_is_card_width_and_the_same_bytes_each_time():
    pytest.importorskip("matplotlib")
    from PIL import Image

    data = curve_png(CURVE, "SimCSE fine-tuning of org/base")
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG" and image.size == (800, 350)
    assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 10  # drawn, not blank
    assert b"Software" not in data and curve_png(CURVE, "SimCSE fine-tuning of org/base") == data


def test_without_matplotlib_the_card_has_no_plot_and_no_image_link(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)  # `import` raises ImportError
    card = full_card()
    card.curve["points"] = CURVE
    with caplog.at_level(logging.INFO, logger="hf_contrastive.hub.plot"):
        assert curve_png(CURVE, "t") is None
        write_card(str(tmp_path), card)
    assert "training-curve plot needs matplotlib, which is not installed: pip install -e \".[plot]\"" in caplog.text
    text = (tmp_path / "README.md").read_text()
    assert not (tmp_path / "training_curve.png").exists() and "training_curve.png" not in text and "![" not in text
    assert "Training loss from 0.1000 to 0.0050; `eval_sts-dev_spearman_cosine` from 0.8672 to 0.8719" in text


def test_history_summary_reads_the_trainer_log():
    history = [{"eval_sts_spearman_cosine": 0.5, "eval_runtime": 1.0, "step": 0}, {"loss": 2.0, "step": 1},
               {"loss": 1.0, "step": 2}, {"eval_sts_spearman_cosine": 0.7, "eval_loss": 0.3, "step": 2}]
    start, last, info = history_summary(history, None)
    assert start == {"eval_sts_spearman_cosine": 0.5} and last == {"eval_sts_spearman_cosine": 0.7, "eval_loss": 0.3}
    points = info.pop("points")
    assert info == {"file": "training_curve.png", "steps": 2, "loss": (2.0, 1.0),
                    "metric": ("eval_sts_spearman_cosine", 0.5, 0.7)}
    assert points == {"loss": [(1, 2.0), (2, 1.0)], "eval_sts_spearman_cosine": [(0, 0.5), (2, 0.7)],
                      "eval_loss": [(2, 0.3)]}


def test_history_summary_plots_the_scores_not_the_other_losses_or_run_metrics():
    history = [{"loss": 1.5, "step": 5},
               {"eval_loss": 1.9, "eval_accuracy": 0.5, "eval_f1": 0.4, "eval_sft": 0.7, "eval_runtime": 2.0, "step": 5},
               {"loss": float("nan"), "step": 10}, {"eval_loss": 1.7, "eval_accuracy": 0.6, "eval_f1": 0.5, "step": 10}]
    _, _, info = history_summary(history, "accuracy")
    assert info["points"] == {"loss": [(5, 1.5)], "eval_loss": [(5, 1.9), (10, 1.7)],
                              "eval_accuracy": [(5, 0.5), (10, 0.6)], "eval_f1": [(5, 0.4), (10, 0.5)]}
    assert info["metric"] == ("eval_accuracy", 0.5, 0.6) and info["steps"] == 10


def test_training_data_names_a_file_by_its_name_only(tmp_path):
    path = tmp_path / "my-private-folder" / "wiki_sample.txt"
    path.parent.mkdir()
    path.write_text("first text\n\nsecond text\nthird text\n")
    data = load_text_dataset(str(path)).select(range(2))  # as `max_train_samples` does
    (entry,) = training_data(data)
    assert entry == {"name": "wiki_sample.txt", "id": None, "config": None, "split": "train", "part": None, "rows": 2,
                     "columns": ["text"]}
    text = render_card(CardData(model_name="m", method="SimCSE", embedding_dimension=16, training_data=[entry]))
    assert "| `wiki_sample.txt` |  | train | 2 | text |" in text and "my-private-folder" not in text


def test_training_data_names_a_hub_dataset_with_its_subset_and_split():
    info = DatasetInfo(dataset_name="all-nli", builder_name="parquet", config_name="triplet")
    data = Dataset.from_dict({"anchor": ["a"], "positive": ["b"], "negative": ["c"]}, info=info, split="train")
    given = [{"name": "all-nli", "split": "train", "id": "sentence-transformers/all-nli", "size": 1}]  # as in ST
    (entry,) = training_data(data, given)
    assert entry == {"name": "all-nli", "id": "sentence-transformers/all-nli", "config": "triplet", "split": "train",
                     "part": None, "rows": 1, "columns": ["anchor", "positive", "negative"]}
    assert training_data(data)[0]["name"] == "all-nli" and training_data(data)[0]["id"] is None  # no id recorded
    card = CardData(model_name="m", method="SimCSE", embedding_dimension=16, training_data=[entry],
                    datasets=["sentence-transformers/all-nli"])
    text = render_card(card)
    assert ("| [sentence-transformers/all-nli](https://huggingface.co/datasets/sentence-transformers/all-nli) | "
            "triplet | train | 1 | anchor, positive, negative |") in text
    assert ModelCard(text).data.datasets == ["sentence-transformers/all-nli"]


def test_training_data_without_a_name_says_so():
    unnamed = Dataset.from_dict({"text": ["a", "b"]})
    builder_only = Dataset.from_dict({"text": ["a"]}, info=DatasetInfo(dataset_name="csv", builder_name="csv"))
    assert [entry["name"] for entry in training_data(unnamed, [{"name": None, "split": "None"}])] == [None]
    assert training_data(builder_only, [{"name": "csv", "split": "None"}])[0]["name"] is None  # `csv` names nothing
    assert training_data(unnamed)[0]["split"] is None and training_data(None) == []
    parts = DatasetDict({"labelled": Dataset.from_dict({"text": ["a"]}, info=DatasetInfo(dataset_name="train.csv")),
                         "unlabelled": unnamed})
    given = [{"name": "labelled"}, {"name": "unlabelled"}]  # sentence-transformers names a DatasetDict's parts by key
    assert [(e["name"], e["part"], e["rows"]) for e in training_data(parts, given)] == [("train.csv", "labelled", 1),
                                                                                       (None, "unlabelled", 2)]
    text = render_card(CardData(model_name="m", method="SimCSE", embedding_dimension=16,
                                training_data=training_data(parts, given)))
    assert "| `train.csv` (`labelled`) |" in text and "| an unnamed in-memory dataset (`unlabelled`) |" in text


@pytest.mark.parametrize("method", ["simcse", "declutr", "sft"])
def test_every_trainer_saves_its_card(tiny_encoder_dir, sentences, tmp_path, quiet_args, method):
    from hf_contrastive import (DeCLUTRConfig, DeCLUTRTrainer, SFTContrastiveConfig, SFTContrastiveTrainer,
                                SimCSEConfig, SimCSETrainer)
    from tests.helpers.training import sts_dev

    common = dict(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4, learning_rate=1e-2,
                  eval_strategy="steps", eval_steps=2, eval_on_start=True, **quiet_args)
    if method == "simcse":  # from a file: the card names the file, not its folder
        corpus = tmp_path / "private-folder" / "corpus.txt"
        corpus.parent.mkdir()
        corpus.write_text("\n".join(sentences) + "\n")
        trainer = SimCSETrainer(model=tiny_encoder_dir, args=SimCSEConfig(**common),
                                train_dataset=load_text_dataset(str(corpus)), eval_dataset=sts_dev(sentences))
        expected = ["**SimCSE**", "arXiv:2104.08821", "| `temperature` | `0.05` |", "Pooling (cls)",
                    "| `corpus.txt` |  | train | 32 | text |"]
    elif method == "declutr":  # a Hub dataset: its id is recorded for the card
        documents = [" ".join(sentences[i:] + sentences[:i]) for i in range(4)]
        trainer = DeCLUTRTrainer(model=tiny_encoder_dir, args=DeCLUTRConfig(min_span_len=4, max_span_len=16, **common),
                                 train_dataset=Dataset.from_dict({"text": documents}), eval_dataset=sts_dev(sentences))
        set_training_dataset_id(trainer.model, "me/documents")
        expected = ["**DeCLUTR**", "arXiv:2006.03659", "| `do_mlm` | `True` |", "| `max_span_len` | `16` |", "Pooling (mean)",
                    "| [me/documents](https://huggingface.co/datasets/me/documents) |"]
    else:
        labelled = Dataset.from_dict({"text": sentences, "label": [i % 2 for i in range(len(sentences))]})
        trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=SFTContrastiveConfig(**common),
                                        train_dataset=labelled, eval_dataset=labelled)
        expected = ["**SFT+contrastive**", "| `contrastive_weight` | `1.0` |", "EmbeddingClassifier", "classes: 0, 1",
                    "| an unnamed in-memory dataset |"]
    trainer.train()
    trainer.save_model()
    text = (tmp_path / "README.md").read_text()
    for fragment in expected + ["## Evaluation during training", "Before training", "](training_curve.png)",
                                "## Framework versions", "hf_contrastive"]:
        assert fragment in text, fragment
    assert str(tmp_path) not in text and tiny_encoder_dir not in text, "no local path in the card"
    assert (tmp_path / "training_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "hf-contrastive" in ModelCard(text).data.tags
    assert ModelCard(text).data.datasets == (["me/documents"] if method == "declutr" else None)
    assert (tmp_path / "card_data.json").is_file()


def test_a_suite_result_and_the_base_models_fill_the_evaluation_table(tiny_encoder_dir, sentences, tmp_path,
                                                                       quiet_args):
    from hf_contrastive import SimCSEConfig, SimCSETrainer, evaluate_sts_suite
    from hf_contrastive.modeling import build_sentence_transformer

    stsb = tmp_path / "stsbenchmark.tsv"
    stsb.write_text("sentence1\tsentence2\tscore\n" + "".join(
        f"{a}\t{b}\t{i % 5}\n" for i, (a, b) in enumerate(zip(sentences[:16], sentences[16:]))))
    base = evaluate_sts_suite(build_sentence_transformer(tiny_encoder_dir, pooler="cls"), tasks=["STSBenchmark"],
                              data_dir=str(tmp_path))
    args = SimCSEConfig(output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=8, **quiet_args)
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
    trainer.train()
    result = evaluate_sts_suite(trainer.model, tasks=["STSBenchmark"], data_dir=str(tmp_path))
    text = render_card(trainer.card_data(evaluation=result, base_evaluation=base, model_id="me/m"))
    (parsed,) = ModelCard(text).data.eval_results
    assert parsed.dataset_type == "mteb/stsbenchmark-sts" and parsed.metric_value == pytest.approx(result.average, abs=1e-4)
    change = result.average - base.average
    assert f"| {result.average:.2f} | {base.average:.2f} | {change:+.2f} |" in text and result.aggregation in text
