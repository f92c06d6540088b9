"""The original DeCLUTR's optimizer and learning-rate schedule, for the Trainer's own hooks.

DeCLUTR's `training_config/declutr.jsonnet` (lines 62-84) trains with allennlp 1.1's `huggingface_adamw` (transformers
3.0's `AdamW`) at `lr=5e-5`, `eps=1e-6`, `correct_bias=false`, `weight_decay=0.1` (not on biases and LayerNorm
weights), `grad_norm=1.0`, automatic mixed precision and the `slanted_triangular` schedule with allennlp's defaults
(`cut_frac=0.1`, `ratio=32`, no gradual unfreezing, no discriminative fine-tuning). transformers no longer ships that
`AdamW` and torch's has no `correct_bias`: `LegacyAdamW` is it. `slanted_triangular_schedule` is allennlp's
`SlantedTriangular` as a `LambdaLR`, so the Trainer steps, saves and resumes it like its own schedules.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import partial

import torch
from torch.optim.lr_scheduler import LambdaLR


class LegacyAdamW(torch.optim.Optimizer):
    """AdamW as transformers 3.0 implemented it (`optimization.py`, `AdamW.step`; the optimizer of allennlp 1.1's
    `huggingface_adamw`, which DeCLUTR uses): the moments `m = β1·m + (1 − β1)·g`, `v = β2·v + (1 − β2)·g²`, the step
    `p -= lr·m / (√v + eps)` — times `√(1 − β2ᵗ) / (1 − β1ᵗ)` with `correct_bias=True`, without it (BERT's original
    optimizer, DeCLUTR's `correct_bias: false`) not: the first updates are then larger, `(1 − β1ᵗ) / √(1 − β2ᵗ)` times
    the corrected ones for a constant gradient (3.2× at step 1, 6.6× around step 12, 1.26× at step 1000) — and then
    the decoupled weight decay on the updated weights, `p -= lr·weight_decay·p` (torch's `AdamW` decays before its
    step).

    Args:
        params: parameters or parameter groups (each may set `lr`, `betas`, `eps`, `weight_decay`, `correct_bias`).
        lr (`float`, *optional*, defaults to `1e-3`), betas (`tuple[float, float]`, *optional*, defaults to
            `(0.9, 0.999)`), eps (`float`, *optional*, defaults to `1e-6`), weight_decay (`float`, *optional*,
            defaults to `0.0`), correct_bias (`bool`, *optional*, defaults to `True`): transformers 3.0's defaults.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.0, correct_bias: bool = True) -> None:
        if not lr >= 0:
            raise ValueError(f"`lr` must be >= 0, got {lr}.")
        if not all(0.0 <= beta < 1.0 for beta in betas):
            raise ValueError(f"`betas` must be in [0, 1), got {betas}.")
        if not eps >= 0:
            raise ValueError(f"`eps` must be >= 0, got {eps}.")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                                  "correct_bias": correct_bias})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                if parameter.grad.is_sparse:
                    raise RuntimeError("LegacyAdamW does not support sparse gradients.")
                state = self.state[parameter]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(parameter)
                    state["exp_avg_sq"] = torch.zeros_like(parameter)
                state["step"] += 1
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(parameter.grad, alpha=1.0 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(parameter.grad, parameter.grad, value=1.0 - beta2)
                step_size = group["lr"]
                if group["correct_bias"]:
                    step_size *= math.sqrt(1.0 - beta2 ** state["step"]) / (1.0 - beta1 ** state["step"])
                parameter.addcdiv_(exp_avg, exp_avg_sq.sqrt().add_(group["eps"]), value=-step_size)
                if group["weight_decay"] > 0.0:
                    parameter.add_(parameter, alpha=-group["lr"] * group["weight_decay"])
        return loss


def slanted_triangular(step: int, total_steps: int, *, cut_frac: float, ratio: float) -> float:
    """The factor of the base learning rate at update `step` (1-based) of `total_steps`, as allennlp 1.1's
    `SlantedTriangular.get_values` (`allennlp/training/learning_rate_schedulers/slanted_triangular.py` lines
    138-165, gradual unfreezing off): `cut = int(total_steps · cut_frac)`, `p = step / cut` while `step < cut`, else
    `1 − (step − cut) / (total_steps − cut)`, and the factor `(1 + p·(ratio − 1)) / ratio`: from `1/ratio` up to 1 at
    the cut, then down to `1/ratio` at the end (`step` past the end counts as the end).

    allennlp's `total_steps` is `num_epochs × num_steps_per_epoch`. When the data loader has no length (a lazy
    dataset reader, as DeCLUTR's `"lazy": true`), `num_steps_per_epoch` is `None` and allennlp takes the steps taken
    so far as the epoch's length until the first epoch ends (lines 140-148): `total_steps = num_epochs × step`, so
    that with one epoch the factor is `1/ratio` from the first update to the last.

    >>> [round(slanted_triangular(k, 20, cut_frac=0.1, ratio=32) * 32, 3) for k in (1, 2, 3, 20)]
    [16.5, 32.0, 30.278, 1.0]
    """
    step = min(step, total_steps)
    cut = int(total_steps * cut_frac)
    proportion = step / cut if step < cut else 1 - (step - cut) / (total_steps - cut)
    return (1 + proportion * (ratio - 1)) / ratio


def check_slanted_triangular_kwargs(kwargs: dict) -> None:
    """`ValueError` naming the key and value of a `lr_scheduler_kwargs` entry `slanted_triangular_schedule` does not
    take or cannot use."""
    unknown = sorted(set(kwargs) - {"cut_frac", "ratio"})
    if unknown:
        raise ValueError(f"`lr_scheduler_kwargs` of the slanted triangular schedule take `cut_frac` and `ratio`, got "
                         f"{', '.join(f'{key}={kwargs[key]!r}' for key in unknown)}.")
    if not 0 <= kwargs.get("cut_frac", 0) < 1:
        raise ValueError(f"`lr_scheduler_kwargs['cut_frac']` must be in [0, 1), got {kwargs['cut_frac']!r}.")
    if not kwargs.get("ratio", 1) >= 1:
        raise ValueError(f"`lr_scheduler_kwargs['ratio']` must be >= 1, got {kwargs['ratio']!r}.")


def slanted_triangular_schedule(optimizer: torch.optim.Optimizer, num_training_steps: int, cut_frac: float = 0.1,
                                ratio: float = 32, last_epoch: int = -1) -> LambdaLR:
    """allennlp's slanted triangular schedule (`slanted_triangular`, its defaults `cut_frac=0.1`, `ratio=32`) over
    `num_training_steps` updates, as a `LambdaLR` the Trainer steps after each update: the `k`-th update uses
    allennlp's learning rate for its `k`-th batch (allennlp's trainer calls `step_batch(k)` before the `k`-th
    optimizer step, `allennlp/training/trainer.py` v1.1.0 lines 613-614).

    allennlp computes the schedule's length from the data loader's length; here it is the Trainer's
    `num_training_steps` (its `max_steps`, or epochs × steps per epoch), which is allennlp's value whenever the data
    loader has a length. Under fp16 the Trainer does not step the schedule after an update its loss scaler skipped,
    where allennlp's `step_batch` advances regardless: each skipped update shifts the rest of the schedule by one."""
    check_slanted_triangular_kwargs({"cut_frac": cut_frac, "ratio": ratio})
    factor = partial(_next_update, total_steps=num_training_steps, cut_frac=cut_frac, ratio=ratio)
    return LambdaLR(optimizer, factor, last_epoch)


def _next_update(scheduler_step: int, *, total_steps: int, cut_frac: float, ratio: float) -> float:
    # LambdaLR's step `i` sets the learning rate of update `i + 1`.
    return slanted_triangular(scheduler_step + 1, total_steps, cut_frac=cut_frac, ratio=ratio)
