"""Negatives from every process: embeddings gathered across a DDP group with their gradients.

`torch.distributed.nn.functional.all_gather` is differentiable: the backward pass sends each process the gradient
that every process's loss puts on its rows. Each process returns its share of the mean over all processes' terms
(`share_of_mean`: its sum x world_size / the global count); DDP averages the gradients over the processes, so the
update is exactly that of the loss over the concatenated batch on one process — no 1/world_size factor is lost (the
bug of gathering without gradients and swapping the local rows back in), however the terms are spread.

Every process must make the same collective calls in the same order, backward included: a tensor gathered with
gradients on one process must be gathered with gradients on all of them (or detached on all of them).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def world() -> tuple[int, int]:
    """`(rank, world_size)` of the default process group, `(0, 1)` outside one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_with_grad(tensor: Tensor) -> tuple[Tensor, int]:
    """All processes' `tensor`s concatenated in rank order (gradients flow back to each process's own rows), and
    the offset of this process's rows. Outside a process group: `(tensor, 0)`. Processes may hold different numbers
    of rows (a last batch, a mask): rows are padded to the largest count for the collective and the padding is cut
    off again."""
    rank, world_size = world()
    if world_size == 1:
        return tensor, 0
    from torch.distributed.nn.functional import all_gather

    sizes = [torch.zeros(1, dtype=torch.long, device=tensor.device) for _ in range(world_size)]
    dist.all_gather(sizes, torch.tensor([tensor.size(0)], device=tensor.device))
    sizes = [int(size) for size in sizes]
    padding = max(sizes) - tensor.size(0)
    padded = torch.cat([tensor, tensor.new_zeros(padding, *tensor.shape[1:])]) if padding else tensor
    parts = all_gather(padded)
    return torch.cat([part[:size] for part, size in zip(parts, sizes)], dim=0), sum(sizes[:rank])


def global_count(count: int, device: torch.device | str = "cpu") -> int:
    """The sum of `count` over every process (a collective: every process must call it)."""
    if world()[1] == 1:
        return count
    total = torch.tensor([count], dtype=torch.long, device=device)
    dist.all_reduce(total)
    return int(total)


def share_of_mean(local_sum: Tensor, global_count: int) -> Tensor:
    """This process's part of the mean over the `global_count` loss terms of all processes, from the sum of its own.

    DDP averages the gradients over the `world_size` processes, so each process returns
    `local_sum * world_size / global_count`: the update is exactly that of the mean over the concatenated batch in one
    process however the terms are spread (an uneven last batch, SFT's unlabelled rows, SupCon's anchors that have a
    positive), and the mean of the logged per-process values is that mean too.
    """
    _, world_size = world()
    return local_sum * (world_size / global_count) if global_count else local_sum * 0.0
