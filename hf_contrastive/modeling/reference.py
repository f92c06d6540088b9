"""The frozen pretrained model that SFT+contrastive anchors the fine-tuned embeddings to."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, Literal

import torch
from torch import Tensor, nn
from sentence_transformers.base.losses.merged_forward import embed_columns

from ..settings import check_choice
from .lora import adapters_disabled, has_lora

ReferenceMode = Literal["auto", "copy", "adapters"]


@contextmanager
def _frozen(model: nn.Module, disable_adapters: bool) -> Iterator[None]:
    """`model` in eval mode (no dropout), without gradients and, if asked, with its adapters off; restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), (adapters_disabled(model) if disable_adapters else nullcontext()):
            yield
    finally:
        model.train(was_training)


class FrozenReference(nn.Module):
    """The embeddings of the pretrained model: no gradient, no dropout, never trained, never saved.

    Modes:
        - `adapters`: the trained model itself with its LoRA adapters disabled. No second copy of the weights; the
          base weights are frozen under LoRA, so this *is* the pretrained model.
        - `copy`: a frozen deep copy of the model as given (full fine-tuning): one extra copy of the weights (no
          gradients or optimizer state for it) and one gradient-free forward per batch.
        - `auto`: `adapters` when the model has adapters, else `copy`.

    The copy is left out of `state_dict()`: it is rebuilt from the pretrained model, so checkpoints stay the size of
    the trained model and a resumed run anchors to the same pretrained weights.
    """

    def __init__(self, model: nn.Module, mode: ReferenceMode = "auto") -> None:
        super().__init__()
        check_choice(mode, ReferenceMode, "reference")
        if mode == "auto":
            mode = "adapters" if has_lora(model) else "copy"
        if mode == "adapters" and not has_lora(model):
            raise ValueError("`reference='adapters'` needs a model with LoRA adapters (pass `peft_config`); "
                             "use `reference='copy'` for full fine-tuning.")
        self.mode = mode
        self.copy = copy.deepcopy(model).requires_grad_(False).eval() if mode == "copy" else None

    def train(self, mode: bool = True) -> FrozenReference:
        """The copy stays in eval mode whatever mode the loss is put in."""
        super().train(mode)
        if self.copy is not None:
            self.copy.eval()
        return self

    def forward(self, model: nn.Module, features: Sequence[dict[str, Any]]) -> list[Tensor]:
        """The reference embedding of each column of `features`; `model` is the trained (unwrapped) model."""
        encoder = self.copy if self.copy is not None else model
        with _frozen(encoder, disable_adapters=self.mode == "adapters"):
            return embed_columns(encoder, [dict(f) for f in features])  # copies: the forward writes into them

    def state_dict(self, *args: Any, destination: Any = None, prefix: str = "", keep_vars: bool = False) -> Any:
        """Nothing: the reference is rebuilt from the pretrained model, not checkpointed."""
        return {} if destination is None else destination
