"""Small trainable heads: SimCSE's MLP over the [CLS] vector and the MLM prediction head of the auxiliary loss."""

from __future__ import annotations

import json
import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers.activations import ACT2FN

# Where BERT-family (`BertForMaskedLM`: cls.predictions.*) and RoBERTa-family (`RobertaForMaskedLM`: lm_head.*)
# checkpoints keep the MLM head that `MLMHead` mirrors; the decoder weight is tied to the word embeddings.
PRETRAINED_MLM_HEAD_KEYS = (
    {"dense.weight": "cls.predictions.transform.dense.weight", "dense.bias": "cls.predictions.transform.dense.bias",
     "layer_norm.weight": "cls.predictions.transform.LayerNorm.weight",
     "layer_norm.bias": "cls.predictions.transform.LayerNorm.bias", "bias": "cls.predictions.bias"},
    {"dense.weight": "lm_head.dense.weight", "dense.bias": "lm_head.dense.bias",
     "layer_norm.weight": "lm_head.layer_norm.weight", "layer_norm.bias": "lm_head.layer_norm.bias",
     "bias": "lm_head.bias"},
)


def init_linear(linear: nn.Linear, initializer_range: float = 0.02) -> nn.Linear:
    """BERT's initialisation (normal(0, initializer_range) weights, zero bias), which SimCSE applies to its MLP."""
    nn.init.normal_(linear.weight, mean=0.0, std=initializer_range)
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)
    return linear


def simcse_mlp(dim: int, initializer_range: float = 0.02) -> nn.Sequential:
    """SimCSE's `MLPLayer`: Linear(dim, dim) + Tanh over the pooled vector (a fresh layer, not BERT's NSP pooler)."""
    return nn.Sequential(init_linear(nn.Linear(dim, dim), initializer_range), nn.Tanh())


class MLMHead(nn.Module):
    """BERT-style masked-LM head: dense + activation + LayerNorm, then a decoder whose weight is the encoder's input
    embedding matrix (tied, passed in at call time so the head owns no copy of it) plus an own bias. The layout of
    `BertLMPredictionHead` and `RobertaLMHead`, so their pretrained weights load (`pretrained_mlm_head_state`).

    Args:
        hidden_size (`int`): width of the encoder's token states.
        vocab_size (`int`): rows of the input embedding matrix.
        layer_norm_eps (`float`, *optional*, defaults to `1e-12`): as BERT.
        initializer_range (`float`, *optional*, defaults to `0.02`): std of the dense layer's initial weights.
        activation (`str`, *optional*, defaults to `"gelu"`): the encoder config's `hidden_act`.
    """

    def __init__(self, hidden_size: int, vocab_size: int, layer_norm_eps: float = 1e-12,
                 initializer_range: float = 0.02, activation: str = "gelu"):
        super().__init__()
        self.dense = init_linear(nn.Linear(hidden_size, hidden_size), initializer_range)
        self.activation = ACT2FN[activation]
        self.layer_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, hidden_states: Tensor, decoder_weight: Tensor) -> Tensor:
        hidden = self.layer_norm(self.activation(self.dense(hidden_states)))
        return F.linear(hidden, decoder_weight, self.bias)


def _checkpoint_files(name_or_path: str) -> list[str]:
    """The safetensors file(s) of a checkpoint folder or of a Hub repo already in the local cache."""
    from huggingface_hub import try_to_load_from_cache

    def locate(filename: str) -> str | None:
        if os.path.isdir(name_or_path):
            path = os.path.join(name_or_path, filename)
            return path if os.path.isfile(path) else None
        path = try_to_load_from_cache(name_or_path, filename)
        return path if isinstance(path, str) else None

    single = locate("model.safetensors")
    if single:
        return [single]
    index = locate("model.safetensors.index.json")
    if not index:
        return []
    with open(index, encoding="utf-8") as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    return [path for path in map(locate, shards) if path]


def pretrained_mlm_head_state(name_or_path: str | None, word_embeddings: Tensor) -> dict[str, Tensor] | None:
    """The `MLMHead` state found in the checkpoint `name_or_path` (a `*ForMaskedLM` or `*ForPreTraining` save of the
    BERT or RoBERTa family, e.g. `bert-base-uncased`), or `None` when it has no MLM head, is not available, or is not
    the checkpoint these `word_embeddings` came from (another revision or cache would give a mismatched head)."""
    from safetensors import safe_open

    if not name_or_path:
        return None
    tensors: dict[str, Tensor] = {}
    matches_embeddings = False
    for path in _checkpoint_files(name_or_path):
        with safe_open(path, framework="pt") as f:
            for key in f.keys():
                if key.endswith("embeddings.word_embeddings.weight"):
                    stored = f.get_tensor(key)
                    matches_embeddings = stored.shape == word_embeddings.shape and torch.equal(
                        stored.to(word_embeddings.dtype), word_embeddings.detach().cpu())
                elif any(key in mapping.values() for mapping in PRETRAINED_MLM_HEAD_KEYS):
                    tensors[key] = f.get_tensor(key)
    if not matches_embeddings:
        return None
    for mapping in PRETRAINED_MLM_HEAD_KEYS:
        if set(mapping.values()) <= set(tensors):
            return {ours: tensors[theirs] for ours, theirs in mapping.items()}
    return None
