"""hf_contrastive: contrastive fine-tuning of text-embedding models (SimCSE, DeCLUTR, SFT+contrastive, SupCon) as
drop-in `transformers.Trainer` subclasses and sentence-transformers losses.

The public names, imported on first use so that `import hf_contrastive` (and the CLI's `--help`) stays fast: every
name of the `__all__` of `modeling`, `losses` and `trainers` (a new one there needs no entry here), and `EXPORTS`:
the errors, loading a text dataset, the release functions and the evaluation a user calls. The rest of
`hf_contrastive.evaluation` (task data, per-task functions, result types) is imported from there.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

PACKAGES = ("modeling", "losses", "trainers")  # each with an `__all__`, every name of it public here
EXPORTS = {  # module -> the names public here
    "errors": ("DataError", "MissingExtraError", "NonFiniteLossError"),
    "config_file": ("ConfigError",),
    "hub.push": ("PushError", "prepare_release", "push_release"),
    "data.loading": ("load_text_dataset",),
    "evaluation": ("STSEvaluator", "evaluate_sts_suite", "evaluate_suites", "evaluate_transfer_suite", "load_stsb"),
}

if TYPE_CHECKING:
    from .config_file import ConfigError
    from .data.loading import load_text_dataset
    from .errors import DataError, MissingExtraError, NonFiniteLossError
    from .evaluation import STSEvaluator, evaluate_sts_suite, evaluate_suites, evaluate_transfer_suite, load_stsb
    from .hub.push import PushError, prepare_release, push_release
    from .losses import *  # noqa: F403
    from .modeling import *  # noqa: F403
    from .trainers import *  # noqa: F403


def _module_of(name: str) -> str | None:
    for module, names in EXPORTS.items():
        if name in names:
            return module
    return next((package for package in PACKAGES if name in import_module(f"{__name__}.{package}").__all__), None)


def __getattr__(name: str) -> Any:
    if name == "__all__":
        return ["__version__", *(n for names in EXPORTS.values() for n in names),
                *(n for package in PACKAGES for n in import_module(f"{__name__}.{package}").__all__)]
    module = _module_of(name) if not name.startswith("_") else None
    if module is None:
        raise AttributeError(f"module 'hf_contrastive' has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    """The public names (`__all__`), so that `dir(hf_contrastive)` and tab completion list them."""
    return sorted({*(name for name in globals() if name.startswith("__")), *__getattr__("__all__")})
