"""Everything about processes in one place: the process group, embeddings gathered across it, the mean over every
process's loss terms, and the parameters a loss owns beside its model (which DDP does not cover).

Gathering (`CrossProcess`). Every loss holds one `CrossProcess` and writes its objective once, for any number of
processes: `gather` returns the candidates of every process and the offset of this process's rows (outside a process
group, or with gathering off: the tensor itself and 0), `queries` the rows whose terms this process computes, the loss
sums those terms, and `mean` turns that sum into this process's loss.

- `gradients="full"` (default): candidates gathered with their gradients, each process computes its own rows' terms,
  and `mean` is this process's share of the mean over all processes' terms (`sum x world_size / global count`). DDP
  averages the gradients over the processes, so the update is exactly that of the loss over the concatenated batch in
  one process, however the terms are spread (an uneven last batch, SFT's unlabelled rows, SupCon's anchors that have
  a positive) — no 1/world_size factor is lost.
- `gradients="local"`: as the original SimCSE (`simcse/models.py`, `cl_forward`, lines 170-192) and DeCLUTR
  (`declutr/common/model_utils.py`, `all_gather_anchor_positive_pairs`, lines 57-68) code: every process's rows are
  gathered without gradients and this process's own rows replaced by its grad-carrying tensor; every process computes
  the terms of the whole batch (its queries are every process's rows) and `mean` is their plain mean, the full-batch
  loss. Each process's gradient is then the full-batch loss's gradient through its own rows only, and DDP's average
  of them is 1/world_size of the full-batch gradient (DeCLUTR's `scale_fix: false`).

Every process must make the same collective calls in the same order, backward included: a tensor gathered with
gradients on one process must be gathered with gradients on all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn


def world() -> tuple[int, int]:
    """`(rank, world_size)` of the default process group, `(0, 1)` outside one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP / compile wrapper (or the model itself)."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


class _AllGather(torch.autograd.Function):
    """All processes' (equally sized) tensors, concatenated in rank order; the backward pass gives each process the
    sum, over every process's loss, of the gradient on its own rows."""

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:
        rank, world_size = world()
        ctx.rank, ctx.rows = rank, tensor.size(0)
        parts = [torch.empty_like(tensor) for _ in range(world_size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows: (ctx.rank + 1) * ctx.rows]


def _all_gather_detached(tensor: Tensor) -> Tensor:
    """All processes' (equally sized) tensors, concatenated in rank order, without gradients."""
    parts = [torch.empty_like(tensor) for _ in range(world()[1])]
    dist.all_gather(parts, tensor.detach().contiguous())
    return torch.cat(parts)


def _gather_rows(tensor: Tensor, all_gather: Callable[[Tensor], Tensor]) -> tuple[list[Tensor], int]:
    """Every process's rows of `tensor` (one tensor per process, in rank order) through `all_gather`, and the offset
    of this process's rows. Processes may hold different numbers of rows (a last batch, a mask): rows are padded to
    the largest count for the collective and cut off again."""
    rank = world()[0]
    sizes = all_values(torch.tensor(float(tensor.size(0)), device=tensor.device)).long().tolist()
    padding = max(sizes) - tensor.size(0)
    padded = torch.cat([tensor, tensor.new_zeros(padding, *tensor.shape[1:])]) if padding else tensor
    parts = all_gather(padded).tensor_split(len(sizes))  # one (padded) part per process, also of no rows
    return [part[:size] for part, size in zip(parts, sizes)], sum(sizes[:rank])


def gather_with_grad(tensor: Tensor) -> tuple[Tensor, int]:
    """All processes' `tensor`s concatenated in rank order (gradients flow back to each process's own rows, summed
    over every process's loss), and the offset of this process's rows. Outside a process group: `(tensor, 0)`."""
    if world()[1] == 1:
        return tensor, 0
    parts, offset = _gather_rows(tensor, _AllGather.apply)
    return torch.cat(parts), offset


def gather_locally(tensor: Tensor) -> tuple[Tensor, int]:
    """All processes' `tensor`s concatenated in rank order as the original SimCSE and DeCLUTR code gathers them
    (`dist.all_gather`, then this process's slot replaced by `tensor`): the other processes' rows without gradients,
    this process's own rows `tensor` itself; and the offset of those rows. Outside a process group: `(tensor, 0)`."""
    if world()[1] == 1:
        return tensor, 0
    parts, offset = _gather_rows(tensor, _all_gather_detached)
    parts[world()[0]] = tensor
    return torch.cat(parts), offset


def global_count(count: int, device: torch.device | str = "cpu") -> int:
    """The sum of `count` over every process (a collective: every process must call it)."""
    if world()[1] == 1:
        return count
    total = torch.tensor([count], dtype=torch.long, device=device)
    dist.all_reduce(total)
    return int(total)


def all_values(value: Tensor) -> Tensor:
    """The scalar `value` of every process, in rank order (one all-gather); `value` alone outside a group. Every
    process must call it, at the same point."""
    value = value.detach().float().mean().reshape(1)
    world_size = world()[1]
    if world_size == 1:
        return value
    gathered = [torch.empty_like(value) for _ in range(world_size)]
    dist.all_gather(gathered, value)
    return torch.cat(gathered)


@dataclass(frozen=True)
class CrossProcess:
    """How a loss sees the other processes: with `enabled` (a loss's `gather_across_devices`) and a process group of
    several processes, its candidates are every process's, and `gradients` (`gather_gradients`: `full` or `local`,
    see the module's docstring) decides how they carry gradients, whose terms this process computes and what its
    value is; otherwise the process is on its own (its own rows, the plain mean)."""

    enabled: bool = True
    gradients: str = "full"

    @classmethod
    def of(cls, settings: Any) -> CrossProcess:
        """The `CrossProcess` of a loss (or config) with `GatherSettings`' fields."""
        return cls(settings.gather_across_devices, settings.gather_gradients)

    @property
    def active(self) -> bool:
        return self.enabled and world()[1] > 1

    @property
    def local(self) -> bool:
        """Whether this process computes the whole batch's terms with its own rows' gradients only (the originals)."""
        return self.active and self.gradients == "local"

    def gather(self, tensor: Tensor) -> tuple[Tensor, int]:
        """Every process's rows of `tensor` and the offset of this process's rows among them (`gather_with_grad`, or
        `gather_locally` with local gradients), or `(tensor, 0)` when on its own."""
        if not self.active:
            return tensor, 0
        return gather_locally(tensor) if self.local else gather_with_grad(tensor)

    def queries(self, tensor: Tensor, offset: int, gathered: Tensor | None = None) -> tuple[Tensor, int]:
        """The rows whose loss terms this process computes and where they start among the gathered candidates: its
        own (`tensor`, `offset`), or with local gradients every process's (`gathered`, the rows of `tensor` of every
        process, gathered here when not given; offset 0), as the originals compute the whole batch's loss on every
        process."""
        if not self.local:
            return tensor, offset
        return (self.gather(tensor)[0] if gathered is None else gathered), 0

    def count(self, count: int, device: torch.device | str = "cpu") -> int:
        """The number of terms over the processes that are gathered (`count` when on its own)."""
        return global_count(count, device) if self.active else count

    def mean(self, total: Tensor, count: int) -> Tensor:
        """This process's loss from the sum `total` of the terms it computed, `count` being the number of terms of
        every gathered process. Full gradients: its part of the mean over all of them, `total * world_size / count`,
        so that DDP's average of the processes' gradients is the gradient of that mean. Local gradients (`total` is
        the whole batch's) and on its own: `total / count`. Zero terms: a zero in the graph."""
        world_size = world()[1] if self.active and not self.local else 1
        return total * (world_size / count) if count else total * 0.0


def loss_parameters(loss: nn.Module, model: nn.Module) -> list[nn.Parameter]:
    """The trainable parameters of `loss` that are not `model`'s (a training-only MLP, an MLM or classification
    head): DDP does not synchronise them, and GradCache computes their gradients apart."""
    of_model = {id(p) for p in unwrap(model).parameters()}
    return [p for p in loss.parameters() if p.requires_grad and id(p) not in of_model]


def average_gradients(parameters: Iterable[nn.Parameter]) -> None:
    """Average the gradients of `parameters` over all processes (one all-reduce), as DDP does for the model's.
    A gradient missing on some processes counts as zeros there; one missing on every process stays `None` (so the
    optimizer skips that parameter, as in a single process). Does nothing outside a multi-process group."""
    world_size = world()[1]
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


def broadcast_parameters(parameters: Iterable[nn.Parameter]) -> None:
    """Copy process 0's values of `parameters` to every process (DDP does this for the model's at wrap time)."""
    if world()[1] == 1:
        return
    with torch.no_grad():
        for parameter in parameters:
            dist.broadcast(parameter.data, src=0)
