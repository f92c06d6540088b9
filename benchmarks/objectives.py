"""The suite's objectives, each built twice on identical work (model, data, batch, steps, seed, learning rate,
max length, temperature): with hf_contrastive (`ours`) and with the peer. `run` trains one of them and measures it."""

from __future__ import annotations

import csv
import gzip
import json
import os
from dataclasses import dataclass
from typing import Any

from benchmarks.common import common_args, minilm_path, our_config, stsb_dev, train_and_measure

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SIDES = ("ours", "peer")


@dataclass(frozen=True)
class Objective:
    name: str
    title: str
    peer: str
    batch_size: int
    steps: int
    unit: str = "texts"  # what a batch row is


OBJECTIVES = {o.name: o for o in [
    Objective("simcse", "SimCSE unsup. (wiki1m)", "ST MNRL on (text, text)", 64, 30),
    Objective("simcse-sup", "SimCSE sup. (NLI triplets)", "ST MNRL on triplets", 64, 30, "triplets"),
    Objective("simcse-lora", "SimCSE unsup. + LoRA r=8", "ST MNRL + the same LoRA", 64, 30),
    Objective("simcse-cached", "SimCSE + GradCache (mini-batch 64)", "ST CachedMNRL", 1024, 2),
    Objective("declutr", "DeCLUTR, contrastive (no MLM)", "PML NTXentLoss (original's)", 4, 30, "documents"),
    Objective("supcon", "SupCon, 2 dropout views", "PML SupConLoss", 64, 30),
    Objective("sft", "SFT cross-entropy (NLI pairs)", "ST SoftmaxLoss", 32, 30, "pairs"),
    Objective("sft-contrastive", "SFT + 1.0 x InfoNCE to frozen model", "ST SoftmaxLoss (CE only)", 32, 30, "pairs"),
]}
LORA = dict(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=["query", "value"])


def st_trainer(model: Any, loss: Any, train: Any, common: dict[str, Any]) -> Any:
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    return SentenceTransformerTrainer(model=model, args=SentenceTransformerTrainingArguments(**common),
                                      train_dataset=train, loss=loss)


def st_model(max_seq_length: int = 32, lora: bool = False) -> Any:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(minilm_path())
    model.max_seq_length = max_seq_length
    if lora:
        import peft

        from hf_contrastive.modeling.lora import add_lora

        add_lora(model, peft.LoraConfig(task_type=peft.TaskType.FEATURE_EXTRACTION, **LORA))
    return model


def nli_triplets(count: int) -> dict[str, list[str]]:
    with gzip.open(os.path.join(DATA, "nli_triplets.csv.gz"), "rt", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))[:count]
    return {column: [row[column] for row in rows] for column in ("sent0", "sent1", "hard_neg")}


def long_documents() -> list[str]:
    with gzip.open(os.path.join(DATA, "long_docs_subset.jsonl.gz"), "rt", encoding="utf-8") as file:
        return [json.loads(line)["text"] for line in file]


def simcse(side: str, common: dict, supervised: bool = False, lora: bool = False,
           mini_batch_size: int | None = None) -> Any:
    from datasets import Dataset
    from sentence_transformers.sentence_transformer.losses import (CachedMultipleNegativesRankingLoss,
                                                                   MultipleNegativesRankingLoss)

    from hf_contrastive import SimCSEConfig, SimCSETrainer
    from hf_contrastive.resources import read_wiki_sentences

    rows = common["max_steps"] * common["per_device_train_batch_size"]
    if supervised:
        columns = nli_triplets(rows)
    else:
        sentences = read_wiki_sentences(limit=rows)
        columns = {"text": sentences} if side == "ours" else {"anchor": sentences, "positive": sentences}
    if side == "ours":
        lora_fields = dict(use_peft=True, lora_r=LORA["r"], lora_alpha=LORA["lora_alpha"],
                           lora_dropout=LORA["lora_dropout"], lora_target_modules=LORA["target_modules"]) if lora else {}
        args = our_config(SimCSEConfig, common, temperature=0.05, max_seq_length=32,
                          mode="supervised" if supervised else "unsupervised", mini_batch_size=mini_batch_size,
                          **lora_fields)
        return SimCSETrainer(model=minilm_path(), args=args, train_dataset=Dataset.from_dict(columns))
    model = st_model(lora=lora)
    if supervised:
        columns = {"anchor": columns["sent0"], "positive": columns["sent1"], "negative": columns["hard_neg"]}
    loss = (MultipleNegativesRankingLoss(model, scale=20.0) if mini_batch_size is None
            else CachedMultipleNegativesRankingLoss(model, scale=20.0, mini_batch_size=mini_batch_size))
    return st_trainer(model, loss, Dataset.from_dict(columns), common)


def declutr(side: str, common: dict) -> Any:
    from datasets import Dataset

    from benchmarks.peers import ntxent_peer
    from hf_contrastive import DeCLUTRConfig, DeCLUTRTrainer

    spans = dict(min_span_len=32, max_span_len=128, temperature=0.05)
    documents = Dataset.from_dict({"text": long_documents()})
    if side == "ours":
        args = our_config(DeCLUTRConfig, common, do_mlm=False, **spans)
        return DeCLUTRTrainer(model=minilm_path(), args=args, train_dataset=documents)
    model = st_model(max_seq_length=512)  # DeCLUTRTrainer's span length limit, as ours
    return DeCLUTRTrainer(model=model, args=our_config(DeCLUTRConfig, common, **spans), train_dataset=documents,
                          loss=ntxent_peer(model, temperature=0.05))


def supcon(side: str, common: dict) -> Any:
    from datasets import Dataset

    from benchmarks.peers import supcon_peer
    from benchmarks.sft_forgetting import nli_split
    from hf_contrastive import SupConLoss

    train, _ = nli_split(common["seed"])
    rows = common["max_steps"] * common["per_device_train_batch_size"]
    data = Dataset.from_dict({"text": train["hypothesis"][:rows], "label": train["label"][:rows]})
    model = st_model()
    loss = SupConLoss(model, num_views=2) if side == "ours" else supcon_peer(model, temperature=0.07, views=2)
    return st_trainer(model, loss, data, common)


def build(name: str, side: str, common: dict, mini_batch_size: int) -> Any:
    if name.startswith("simcse"):
        return simcse(side, common, supervised=name == "simcse-sup", lora=name == "simcse-lora",
                      mini_batch_size=mini_batch_size if name == "simcse-cached" else None)
    return {"declutr": declutr, "supcon": supcon}[name](side, common)


def run(name: str, side: str, steps: int, batch_size: int, mini_batch_size: int, seed: int, output_dir: str,
        quality: bool = True, precision: str = "fp32", device: str = "cpu") -> dict:
    """Train objective `name` on `side` in this process, on `device` in `precision`; examples/s, peak memory, FLOPs
    and STS-B dev (`quality`). The seed is set first, so that what is initialised before the Trainer seeds (LoRA
    adapters, heads) is the same."""
    from transformers import set_seed

    set_seed(seed)
    if name.startswith("sft"):
        from benchmarks.sft_forgetting import PEER, RUNS, library_default, worker

        kind = PEER if side == "peer" else RUNS[name == "sft-contrastive"]
        return worker(kind, steps, batch_size, weight=1.0, temperature=0.05, negatives=library_default("negatives"),
                      seed=seed, output_dir=output_dir, precision=precision, device=device)
    common = common_args(output_dir, steps, batch_size, seed, precision, device)
    trainer = build(name, side, common, mini_batch_size)
    measured = train_and_measure(trainer, steps * batch_size)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    return measured | {"trainable_params": trainable} | ({"stsb_dev": stsb_dev(trainer.model)} if quality else {})

