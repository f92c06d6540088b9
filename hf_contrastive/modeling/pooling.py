"""SimCSE's poolers expressed with sentence-transformers' own modules, so a saved model loads back with plain
`SentenceTransformer(path)` (no hf_contrastive needed) and applies exactly the pooler it was trained with.

| pooler              | SimCSE formula (models.py `Pooler`)         | modules after the Transformer                       |
|---------------------|---------------------------------------------|-----------------------------------------------------|
| `cls`               | `h_L[:, 0]` then MLP (Linear + Tanh)        | `Pooling("cls")`, `Dense(d, d, Tanh)`               |
| `cls_before_pooler` | `h_L[:, 0]`                                 | `Pooling("cls")`                                    |
| `avg`               | masked mean of `h_L`                        | `Pooling("mean")`                                   |
| `avg_first_last`    | masked mean of `(h_1 + h_L) / 2`            | `WeightedLayerPooling(weights 1,0,…,0,1)`, `Pooling("mean")` |
| `avg_top2`          | masked mean of `(h_{L-1} + h_L) / 2`        | `WeightedLayerPooling(weights 1,1)`, `Pooling("mean")` |

`h_0` is the embedding output and `h_1` the first transformer layer, as in SimCSE's `hidden_states[1]`. The fixed
layer weights are frozen (`requires_grad=False`) when built here; sentence-transformers reloads them as ordinary
parameters, so freeze them again before training a reloaded model further. "MLP in training only" (SimCSE's `--mlp_only_train`) is
`cls_before_pooler` here, with the MLP owned by the loss (see `SimCSELoss(mlp_only_train=True)`).
"""

from __future__ import annotations

import torch
from torch import nn
from sentence_transformers.sentence_transformer.modules import Dense, Pooling, Transformer, WeightedLayerPooling

from .heads import init_linear

POOLERS = ("cls", "cls_before_pooler", "avg", "avg_first_last", "avg_top2")
POOLER_ALIASES = {"mean": "avg"}


def resolve_pooler(pooler: str) -> str:
    """Canonical pooler name; raises a `ValueError` naming the value and the choices."""
    name = POOLER_ALIASES.get(pooler, pooler)
    if name not in POOLERS:
        choices = ", ".join(repr(p) for p in POOLERS + tuple(POOLER_ALIASES))
        raise ValueError(f"Unknown `pooler` {pooler!r}; choose one of {choices}.")
    return name


def _frozen_layer_average(dim: int, num_layers: int, layer_start: int, weights: list[float]) -> WeightedLayerPooling:
    parameter = nn.Parameter(torch.tensor(weights, dtype=torch.float), requires_grad=False)
    return WeightedLayerPooling(dim, num_hidden_layers=num_layers, layer_start=layer_start, layer_weights=parameter)


def pooling_modules(pooler: str, transformer: Transformer) -> list[nn.Module]:
    """The modules that follow `transformer` to implement `pooler`. Enables `output_hidden_states` on the
    transformer's config (saved with the model) when the pooler reads inner layers."""
    pooler = resolve_pooler(pooler)
    dim = transformer.get_embedding_dimension()
    config = transformer.model.config
    if pooler in ("cls", "cls_before_pooler"):
        modules: list[nn.Module] = [Pooling(dim, pooling_mode="cls")]
        if pooler == "cls":
            linear = init_linear(nn.Linear(dim, dim), getattr(config, "initializer_range", 0.02))
            modules.append(Dense(dim, dim, activation_function=nn.Tanh(), init_weight=linear.weight.data,
                                 init_bias=linear.bias.data))
        return modules
    if pooler == "avg":
        return [Pooling(dim, pooling_mode="mean")]
    num_layers = config.num_hidden_layers
    config.output_hidden_states = True
    if pooler == "avg_first_last":
        weights = [0.0] * num_layers
        weights[0] = weights[-1] = 1.0
        layer_average = _frozen_layer_average(dim, num_layers, layer_start=1, weights=weights)
    else:  # avg_top2
        layer_average = _frozen_layer_average(dim, num_layers, layer_start=num_layers - 1, weights=[1.0, 1.0])
    return [layer_average, Pooling(dim, pooling_mode="mean")]
