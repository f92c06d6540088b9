"""What the trainer tests check after training (every trainable parameter changed) and the STS dev set they evaluate."""

from __future__ import annotations

import torch
from datasets import Dataset

# BERT's NSP pooler (`pooler.dense`) is loaded by AutoModel but is on no SimCSE pooler's path (SimCSE itself builds
# BertModel(add_pooling_layer=False)), so it never gets a gradient.
UNUSED = ("pooler.dense",)


def trainable(trainer) -> dict[str, torch.Tensor]:
    """A copy of every trainable parameter of the trainer's model (`model.*`) and of its loss's own (`loss.*`)."""
    params = {f"model.{n}": p for n, p in trainer.model.named_parameters() if p.requires_grad}
    params |= {f"loss.{n}": p for n, p in trainer.loss.named_parameters() if p.requires_grad and not n.startswith("model.")}
    return {n: p.detach().clone() for n, p in params.items() if not any(u in n for u in UNUSED)}


def assert_all_changed(before: dict[str, torch.Tensor], trainer) -> None:
    """Every parameter of `before` (from `trainable`) has another value now."""
    after = trainable(trainer)
    assert set(after) == set(before)
    unchanged = [n for n in before if torch.equal(before[n], after[n])]
    assert not unchanged, f"parameters not updated: {unchanged}"


def sts_dev(sentences: list[str]) -> Dataset:
    """16 STS pairs of `sentences` with gold scores 0-5."""
    return Dataset.from_dict({"sentence1": sentences[:16], "sentence2": sentences[16:32],
                              "score": [float((i * 7) % 6) for i in range(16)]})
