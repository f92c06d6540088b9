"""Small trainable heads: SimCSE's MLP over the [CLS] vector and the MLM prediction head of the auxiliary loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


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
    """BERT-style masked-LM head: dense + GELU + LayerNorm, then a decoder whose weight is the encoder's input
    embedding matrix (tied, passed in at call time so the head owns no copy of it) plus an own bias.

    Args:
        hidden_size (`int`): width of the encoder's token states.
        vocab_size (`int`): rows of the input embedding matrix.
        layer_norm_eps (`float`, *optional*, defaults to `1e-12`): as BERT.
        initializer_range (`float`, *optional*, defaults to `0.02`): std of the dense layer's initial weights.
    """

    def __init__(
        self, hidden_size: int, vocab_size: int, layer_norm_eps: float = 1e-12, initializer_range: float = 0.02
    ):
        super().__init__()
        self.dense = init_linear(nn.Linear(hidden_size, hidden_size), initializer_range)
        self.layer_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, hidden_states: Tensor, decoder_weight: Tensor) -> Tensor:
        hidden = self.layer_norm(F.gelu(self.dense(hidden_states)))
        return F.linear(hidden, decoder_weight, self.bias)
