"""Checks of the objective hyperparameters, shared by the losses and the configs that mirror them."""

from __future__ import annotations


def check_objective(temperature: float, mlm_weight: float = 0.0, mlm_probability: float = 0.15) -> None:
    """`ValueError` naming the field and value when a hyperparameter is out of range."""
    if not temperature > 0:
        raise ValueError(f"`temperature` must be > 0, got {temperature}.")
    if not mlm_weight >= 0:
        raise ValueError(f"`mlm_weight` must be >= 0, got {mlm_weight}.")
    if not 0 < mlm_probability <= 1:
        raise ValueError(f"`mlm_probability` must be in (0, 1], got {mlm_probability}.")


def check_gradient_cache(mini_batch_size: int | None, do_mlm: bool = False) -> None:
    """`ValueError` for a gradient-caching `mini_batch_size` below 1, or combined with the MLM auxiliary term."""
    if mini_batch_size is not None and mini_batch_size < 1:
        raise ValueError(f"`mini_batch_size` must be >= 1, got {mini_batch_size}.")
    if mini_batch_size is not None and do_mlm:
        raise ValueError("`mini_batch_size` (gradient caching) does not combine with `do_mlm`; use one of them.")
