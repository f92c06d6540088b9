"""GradCache for losses that own parameters (SimCSE's training-only MLP, SFT's classification head).

sentence-transformers' `CachedLossMixin` back-propagates the loss to the embeddings during the forward pass and
pushes the cached gradients into the model from a hook on the returned loss, scaled by that loss's incoming
gradient (gradient accumulation's 1/steps, fp16's loss scale). A loss's own parameters must get the same scaling:
their gradients are computed in step (2) with `torch.autograd.grad`, kept, and added, times the incoming gradient,
by a hook on the returned loss.

The mini-batches are replayed inside the backward pass, outside the forward's `torch.autocast` (mixed precision):
`AutocastReplay` replays each under the autocast state of its first pass, so the graph the cached gradients are
pushed through is the one that made the cached embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import torch
from sentence_transformers.base.losses.gradcache import CachedLossMixin
from torch import Tensor, nn

from ..distributed import loss_parameters


def use_gradient_cache(loss: nn.Module, mini_batch_size: int | None) -> None:
    """Set a loss's GradCache `mini_batch_size` (`None`: off) and the `uses_gradient_cache` flag that
    sentence-transformers' wrapper losses read."""
    loss.mini_batch_size = mini_batch_size
    loss.uses_gradient_cache = mini_batch_size is not None


def backward_to_embeddings(loss: Tensor, reps: Sequence[Sequence[Tensor]],
                           parameters: Sequence[nn.Parameter]) -> list[tuple[nn.Parameter, Tensor | None]]:
    """GradCache step (2): the loss's gradients into the embeddings' `.grad` (the cache), and the gradients of
    `parameters`, returned (not applied) so that they can be scaled by the loss's incoming gradient later."""
    flat = [rep for column in reps for rep in column]
    grads = torch.autograd.grad(loss, [*flat, *parameters], allow_unused=True)
    for rep, grad in zip(flat, grads):
        rep.grad = grad
    return list(zip(parameters, grads[len(flat):]))


def apply_on_backward(loss: Tensor, pending: Sequence[tuple[nn.Parameter, Tensor | None]]) -> Tensor:
    """Add each kept gradient, times the gradient reaching `loss`, to its parameter when `loss` is back-propagated."""
    pending = [(parameter, grad) for parameter, grad in pending if grad is not None]
    if pending and loss.requires_grad:
        def hook(grad_output: Tensor) -> None:
            for parameter, grad in pending:
                scaled = grad * grad_output.to(grad.dtype)
                parameter.grad = scaled if parameter.grad is None else parameter.grad + scaled

        loss.register_hook(hook)
    return loss


def autocast_state(device_type: str) -> dict[str, Any] | None:
    """`torch.autocast` arguments that reproduce the autocast now active for `device_type`, or `None`."""
    if not torch.is_autocast_enabled(device_type):
        return None
    return {"device_type": device_type, "dtype": torch.get_autocast_dtype(device_type)}


class AutocastReplay(CachedLossMixin):
    """`CachedLossMixin` whose replayed mini-batches (step 3) run under the autocast of their first pass (step 1),
    kept beside that pass's random state; its step (2), `calculate_loss`, serves a loss whose
    `compute_loss_from_embeddings(embeddings, labels)` takes one tensor per column (as sentence-transformers')."""

    def calculate_loss(self, reps: list[list[Tensor]], labels: Any = None, *, with_backward: bool = False) -> Tensor:
        """GradCache step (2): the loss over the whole batch from the per-mini-batch embeddings (each column's
        mini-batches concatenated); with `with_backward`, back-propagated to those embeddings and returned detached."""
        loss = self.compute_loss_from_embeddings([torch.cat(column) for column in reps], labels)
        return self.cache_step_two(loss, reps, with_backward)

    def cache_step_two(self, loss: Tensor, reps: Sequence[Sequence[Tensor]], with_backward: bool) -> Tensor:
        if with_backward:
            loss.backward()
            loss = loss.detach()
        return loss

    def embed_minibatch(self, sentence_feature: dict[str, Tensor], begin: int, end: int, with_grad: bool,
                        copy_random_state: bool, random_state: Any = None) -> tuple[Tensor, Any]:
        replayed = getattr(random_state, "autocast", None)
        with torch.autocast(**replayed) if replayed else nullcontext():
            reps, state = super().embed_minibatch(sentence_feature, begin, end, with_grad, copy_random_state,
                                                  random_state)
        if state is not None:
            state.autocast = autocast_state(reps.device.type)
        return reps, state


class CachedLossWithParameters(AutocastReplay):
    """`CachedLossMixin` for a loss with its own parameters: call `forward_with_cache` from `forward`; a
    `calculate_loss` of its own ends with `return self.cache_step_two(loss, reps, with_backward)`, which keeps the
    parameters' gradients for the backward pass."""

    def forward_with_cache(self, sentence_features: list[dict[str, Any]], labels: Any = None) -> Tensor:
        self._pending_grads: list = []
        loss = self.forward_cached(sentence_features, labels)
        pending, self._pending_grads = self._pending_grads, []  # the own parameters' gradients of this call
        return apply_on_backward(loss, pending)

    def cache_step_two(self, loss: Tensor, reps: Sequence[Sequence[Tensor]], with_backward: bool) -> Tensor:
        if with_backward:
            self._pending_grads = backward_to_embeddings(loss, reps, loss_parameters(self, self.model))
            loss = loss.detach()
        return loss
