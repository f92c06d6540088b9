"""What DDP does not do for parameters outside the wrapped model."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch import nn

from ..losses.gather import world


def _group_size() -> int:
    return world()[1]


def average_gradients(parameters: Iterable[nn.Parameter]) -> None:
    """Average the gradients of `parameters` over all processes (one all-reduce), as DDP does for the model's.
    A gradient missing on some processes counts as zeros there; one missing on every process stays `None` (so the
    optimizer skips that parameter, as in a single process). Does nothing outside a multi-process group."""
    world_size = _group_size()
    parameters = [p for p in parameters if p.requires_grad]
    if world_size == 1 or not parameters:
        return
    grads = [p.grad.float() if p.grad is not None else torch.zeros_like(p, dtype=torch.float) for p in parameters]
    present = torch.tensor([float(p.grad is not None) for p in parameters], device=grads[0].device)
    flat = torch.cat([g.reshape(-1) for g in grads] + [present])
    dist.all_reduce(flat)
    offset = 0
    for index, parameter in enumerate(parameters):
        count = parameter.numel()
        if flat[-len(parameters) + index] > 0:
            parameter.grad = (flat[offset: offset + count] / world_size).view_as(parameter).to(parameter.dtype)
        offset += count


def all_values(value: torch.Tensor) -> torch.Tensor:
    """The scalar `value` of every process, in rank order (one all-gather); `value` alone outside a group. Every
    process must call it, at the same point."""
    value = value.detach().float().mean().reshape(1)
    world_size = _group_size()
    if world_size == 1:
        return value
    gathered = [torch.empty_like(value) for _ in range(world_size)]
    dist.all_gather(gathered, value)
    return torch.cat(gathered)


def broadcast_parameters(parameters: Iterable[nn.Parameter]) -> None:
    """Copy process 0's values of `parameters` to every process (DDP does this for the model's at wrap time)."""
    if _group_size() == 1:
        return
    with torch.no_grad():
        for parameter in parameters:
            dist.broadcast(parameter.data, src=0)
