"""What DDP does not do for parameters outside the wrapped model."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch import nn
from transformers import TrainerCallback


def average_gradients(parameters: Iterable[nn.Parameter]) -> None:
    """Average the gradients of `parameters` over all processes (one all-reduce), as DDP does for the model's.
    A missing gradient counts as zeros. Does nothing outside a multi-process group."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    parameters = [p for p in parameters if p.requires_grad]
    if not parameters:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for parameter in parameters:
        count = parameter.numel()
        parameter.grad = flat[offset: offset + count].view_as(parameter).clone()
        offset += count


class LossGradientSync(TrainerCallback):
    """DDP wraps the model only, so the loss's own parameters (a training-only MLP, an MLM head) would train on
    each process's gradients alone and drift apart. Before every optimizer step, average their gradients."""

    def __init__(self, loss_parameters):
        self.loss_parameters = loss_parameters  # a callable: the trainer's loss may be replaced after __init__

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        average_gradients(self.loss_parameters())
