"""Write the example model cards in this folder: one per method, rendered by `hf_contrastive.hub.card.write_card`
from fixed `CardData` values (no training run), exactly as a trainer's save writes them.

    python model_cards/examples/regenerate.py            # rewrite the examples here
    python model_cards/examples/regenerate.py OUT_DIR    # write them elsewhere (tests compare the two)

Run it after changing the template (`model_cards/model_card.md.j2`), the card's code or the plot; the test
`tests/hub/test_example_cards.py` fails until the examples here match what the code writes.

The values are illustrative. The STS scores of the SimCSE examples (and of the BERT-base baseline beside them) are
Table 5 of the SimCSE paper (arXiv:2104.08821); DeCLUTR's are its re-evaluation by SimCSE under the same protocol.
The training curves, the in-training metrics and the SFT+contrastive example's numbers are made up for the
example: they were not measured.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from typing import Any

from hf_contrastive.evaluation.sts_suite import STS_TASKS, STSSuiteResult, STSTaskResult
from hf_contrastive.hub.card import write_card
from hf_contrastive.hub.card_data import LIBRARY_CITATION, CardData, history_summary, set_evaluation
from hf_contrastive.losses.declutr import DECLUTR_CITATION
from hf_contrastive.losses.sft_contrastive import INFO_NCE_CITATION
from hf_contrastive.losses.simcse import SIMCSE_CITATION

HERE = os.path.dirname(os.path.abspath(__file__))
VERSIONS = {"Python": "3.11.7", "hf_contrastive": "0.1.0", "sentence-transformers": "6.2.0", "transformers": "5.23.0",
            "torch": "2.13.0", "datasets": "5.2.0", "accelerate": "1.15.0"}
H200 = "bf16 (auto: CUDA GPU with bf16 (compute capability 9.0))"
TAGS = ["sentence-transformers", "sentence-similarity", "feature-extraction", "hf-contrastive"]
SIMCSE_PAPER = {"title": "SimCSE: Simple Contrastive Learning of Sentence Embeddings", "id": "2104.08821"}
# Spearman x100 on STS12-16, STS-B, SICK-R (test), in the order of STS_TASKS.
UNSUP_SIMCSE_BERT = (68.40, 82.41, 74.38, 80.91, 78.56, 76.85, 72.23)
SUP_SIMCSE_BERT = (75.30, 84.67, 80.19, 85.40, 80.82, 84.25, 80.39)
BERT_FIRST_LAST_AVG = (39.70, 59.38, 49.67, 66.03, 66.19, 53.87, 62.06)
DECLUTR_ROBERTA_BASE = (52.41, 75.19, 65.52, 77.12, 78.63, 72.41, 68.62)


def sts_suite(scores: tuple[float, ...]) -> STSSuiteResult:
    """A suite result of the seven STS tasks with these Spearman scores (nothing else of it reaches the card)."""
    return STSSuiteResult(results=tuple(
        STSTaskResult(task=task, spearman=score, pearson=math.nan, pairs=0, seconds=0.0, source=task.hub_id,
                      revision=task.revision) for task, score in zip(STS_TASKS, scores)))


def log_history(steps: int, logging_steps: int, eval_steps: int, loss: tuple[float, float, float],
                metrics: dict[str, tuple[float, float, float]]) -> list[dict[str, Any]]:
    """A Trainer's `log_history` whose loss and metrics move from `start` to `end` at `rate` (each a `(start, end,
    rate)` of an exponential approach) within a fixed 3% wiggle; evaluated at step 0 and every `eval_steps`."""
    def value(curve: tuple[float, float, float], step: int, phase: float) -> float:
        start, end, rate = curve
        progress = 1 - math.exp(-rate * step / steps)
        wiggle = 0.03 * math.sin(phase + 7.3 * step / steps * math.pi) if step else 0.0
        return round((start + (end - start) * progress / (1 - math.exp(-rate))) * (1 + wiggle), 4)

    history = []
    for step in range(0, steps + 1):
        if step and step % logging_steps == 0:
            history.append({"loss": value(loss, step, 0.0), "learning_rate": 0.0, "epoch": 0.0, "step": step})
        if step % eval_steps == 0 or step == steps:
            history.append({**{name: value(curve, step, 1.0 + i) for i, (name, curve) in enumerate(metrics.items())},
                            "eval_runtime": 1.0, "epoch": 0.0, "step": step})
    return history


def card(*, history: list[dict[str, Any]], metric: str | None, evaluation: Any = None, base: Any = None,
         **fields: Any) -> CardData:
    """`CardData` as `card_data_from_trainer` fills it, from the given fields and a log history."""
    start, last, curve = history_summary(history, metric)
    data = CardData(training_metrics=last, start_metrics=start, curve=curve, versions=VERSIONS, **fields)
    data.datasets = [entry["id"] for entry in data.training_data if entry["id"]]
    set_evaluation(data, evaluation, base)
    return data


def examples() -> dict[str, CardData]:
    sts_dev = "eval_sts-dev_spearman_cosine"
    return {
        "simcse-unsupervised": card(
            model_name="your-name/unsup-simcse-bert-base-uncased", model_id="your-name/unsup-simcse-bert-base-uncased",
            method="SimCSE", base_model="google-bert/bert-base-uncased", paper=SIMCSE_PAPER,
            objective={"mode": "unsupervised", "do_mlm": False, "mini_batch_size": None, "gather_across_devices": True,
                       "gather_gradients": "full", "temperature": 0.05, "hard_negative_weight": 0.0,
                       "mlp_only_train": True},
            architecture="Transformer → Pooling (cls)", embedding_dimension=768, max_seq_length=32, similarity="cosine",
            training_data=[{"name": "wiki1m_for_simcse.txt", "id": None, "config": None, "split": "train",
                            "part": None, "rows": 1_000_000, "columns": ["text"]}],
            hyperparameters={"learning_rate": 3e-05, "per_device_train_batch_size": 64, "steps": 15625, "epochs": 1.0,
                             "warmup_steps": 0, "weight_decay": 0.0, "seed": 42, "world_size": 1, "precision": H200,
                             "max_seq_length (training)": 32},
            history=log_history(15625, 500, 1250, (0.62, 0.0011, 9.0),
                                {"eval_sts-dev_pearson_cosine": (0.3155, 0.8197, 6.0), sts_dev: (0.3187, 0.8250, 6.0)}),
            metric=sts_dev, evaluation=sts_suite(UNSUP_SIMCSE_BERT), base=sts_suite(BERT_FIRST_LAST_AVG),
            citations=[SIMCSE_CITATION, LIBRARY_CITATION], tags=[*TAGS, "simcse"], license="apache-2.0", language=["en"]),
        "simcse-supervised": card(
            model_name="your-name/sup-simcse-bert-base-uncased", model_id="your-name/sup-simcse-bert-base-uncased",
            method="SimCSE", base_model="google-bert/bert-base-uncased", paper=SIMCSE_PAPER,
            objective={"mode": "supervised", "do_mlm": False, "mini_batch_size": None, "gather_across_devices": True,
                       "gather_gradients": "full", "temperature": 0.05, "hard_negative_weight": 0.0,
                       "mlp_only_train": False},
            architecture="Transformer → Pooling (cls) → Dense (768 → 768, Tanh)", embedding_dimension=768,
            max_seq_length=32, similarity="cosine",
            training_data=[{"name": "all-nli", "id": "sentence-transformers/all-nli", "config": "triplet",
                            "split": "train", "part": None, "rows": 557_850,
                            "columns": ["anchor", "positive", "negative"]}],
            hyperparameters={"learning_rate": 5e-05, "per_device_train_batch_size": 128, "steps": 3270, "epochs": 3.0,
                             "warmup_steps": 0, "weight_decay": 0.0, "seed": 42, "world_size": 4, "precision": H200,
                             "max_seq_length (training)": 32},
            history=log_history(3270, 100, 250, (3.71, 0.93, 5.0),
                                {"eval_sts-dev_pearson_cosine": (0.3155, 0.8571, 7.0), sts_dev: (0.3187, 0.8620, 7.0)}),
            metric=sts_dev, evaluation=sts_suite(SUP_SIMCSE_BERT), base=sts_suite(BERT_FIRST_LAST_AVG),
            citations=[SIMCSE_CITATION, LIBRARY_CITATION], tags=[*TAGS, "simcse"], license="apache-2.0", language=["en"]),
        "declutr": card(
            model_name="your-name/declutr-roberta-base", model_id="your-name/declutr-roberta-base", method="DeCLUTR",
            base_model="FacebookAI/roberta-base",
            paper={"title": "DeCLUTR: Deep Contrastive Learning for Unsupervised Textual Representations",
                   "id": "2006.03659"},
            objective={"num_anchors": 2, "num_positives": 2, "min_span_len": 32, "max_span_len": 512,
                       "sampling_strategy": None, "do_mlm": True, "mlm_weight": 1.0, "mlm_probability": 0.15,
                       "gather_across_devices": True, "gather_gradients": "full", "temperature": 0.05},
            architecture="Transformer → Pooling (mean)", embedding_dimension=768, max_seq_length=512,
            similarity="cosine",
            training_data=[{"name": "openwebtext", "id": "Skylion007/openwebtext", "config": None, "split": "train",
                            "part": None, "rows": 497_868, "columns": ["text", "token_starts", "token_ends",
                                                                      "doc_index"]}],
            hyperparameters={"learning_rate": 5e-05, "per_device_train_batch_size": 4, "steps": 31117, "epochs": 1.0,
                             "warmup_steps": 0.1, "weight_decay": 0.1, "seed": 13370, "world_size": 4,
                             "precision": H200, "max_seq_length (training)": None},
            history=log_history(31117, 1000, 2500, (8.42, 2.31, 4.0),
                                {"eval_sts-dev_pearson_cosine": (0.5290, 0.7512, 3.0), sts_dev: (0.5427, 0.7605, 3.0)}),
            metric=sts_dev, evaluation=sts_suite(DECLUTR_ROBERTA_BASE),
            citations=[DECLUTR_CITATION, LIBRARY_CITATION], tags=[*TAGS, "declutr"], license="apache-2.0",
            language=["en"]),
        "sft-contrastive-lora": card(
            model_name="your-name/minilm-emotion-sft-contrastive", model_id="your-name/minilm-emotion-sft-contrastive",
            method="SFT+contrastive", base_model="sentence-transformers/all-MiniLM-L6-v2",
            objective={"strategy": "mixing", "labelled_per_batch": None, "unlabelled_batches_per_labelled": 1,
                       "num_labels": 6, "mini_batch_size": None, "gather_across_devices": True,
                       "gather_gradients": "full", "contrastive_weight": 1.0, "contrastive": "info_nce",
                       "negatives": "fine_tuned", "temperature": 0.05, "reference": "copy", "classifier_dropout": 0.1,
                       "contrastive_rows": "all", "num_inputs": 1},
            architecture="Transformer → Pooling (mean) → Normalize", embedding_dimension=384, max_seq_length=256,
            similarity="cosine",
            training_data=[{"name": "emotion", "id": "dair-ai/emotion", "config": "split", "split": "train",
                            "part": None, "rows": 16_000, "columns": ["text", "label"]}],
            hyperparameters={"learning_rate": 2e-04, "per_device_train_batch_size": 32, "steps": 1500, "epochs": 3.0,
                             "warmup_steps": 0.05, "weight_decay": 0.01, "seed": 42, "world_size": 1,
                             "precision": "fp32 (precision='fp32')", "max_seq_length (training)": None},
            history=log_history(1500, 50, 250, (2.95, 0.61, 5.0),
                                {"eval_loss": (2.41, 0.78, 5.0), "eval_accuracy": (0.3520, 0.9105, 6.0),
                                 "eval_f1": (0.2104, 0.8762, 6.0)}),
            metric="accuracy",
            lora={"r": 16, "alpha": 32, "dropout": 0.1, "target_modules": ["key", "query", "value"],
                  "trainable": 221_184, "total": 22_934_400},
            release="merged", classifier=dict(enumerate(["sadness", "joy", "love", "anger", "fear", "surprise"])),
            citations=[INFO_NCE_CITATION, LIBRARY_CITATION], tags=[*TAGS, "sft-contrastive"], license="apache-2.0",
            language=["en"]),
    }


ILLUSTRATIVE = ("> **An example card**, rendered by `model_cards/examples/regenerate.py` from fixed values: its scores, "
                "curve and metrics are illustrative (the STS scores are published ones, the rest made up), not a "
                "measured run.\n\n")


def mark_illustrative(readme: str) -> None:
    """Put the ILLUSTRATIVE note first in the card's body, after its YAML metadata."""
    with open(readme) as f:
        text = f.read()
    end = text.index("\n---\n", 4) + len("\n---\n")
    with open(readme, "w") as f:
        f.write(text[:end] + "\n" + ILLUSTRATIVE + text[end:].lstrip("\n"))


def write_examples(folder: str) -> list[str]:
    """Each example card in `folder/<name>/` (replacing what was there), marked illustrative; returns the names."""
    names = []
    for name, data in examples().items():
        target = os.path.join(folder, name)
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(target)
        write_card(target, data)
        mark_illustrative(os.path.join(target, "README.md"))
        names.append(name)
    return names


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else HERE
    for written in write_examples(out):
        print(os.path.join(out, written))
