"""The library's own error types."""

from __future__ import annotations

__all__ = ["DataError", "NonFiniteLossError"]


class DataError(ValueError):
    """A dataset or data file that the trainers cannot use; the message names the dataset, column, row and value.

    A `ValueError`, so `except ValueError` still catches it; configuration and hyperparameter errors stay plain
    `ValueError`s."""


class NonFiniteLossError(FloatingPointError):
    """A training step's loss was NaN or infinite (`ContrastiveConfig.stop_on_nonfinite_loss`); the message names the
    optimizer step, the loss (and each component of a loss that returns a dict) and what to try. Raised before that
    step's optimizer update, so the model keeps the weights of the previous step and the checkpoints already written
    in `output_dir` are untouched."""
