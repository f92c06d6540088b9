"""hf_contrastive: contrastive fine-tuning of text-embedding models (SimCSE, DeCLUTR, SFT+contrastive) as
drop-in `transformers.Trainer` subclasses and sentence-transformers losses.

The public names are those of the subpackages' `__all__`, imported on first use, so `import hf_contrastive` (and the
CLI's `--help`) stays fast and a new name needs no entry here.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PACKAGES = ("errors", "evaluation", "modeling", "losses", "trainers")  # each with an `__all__`, cheapest first

if TYPE_CHECKING:
    from .errors import *  # noqa: F403
    from .evaluation import *  # noqa: F403
    from .losses import *  # noqa: F403
    from .modeling import *  # noqa: F403
    from .trainers import *  # noqa: F403


def __getattr__(name: str) -> Any:
    if name == "__all__":
        return ["__version__", *(n for package in _PACKAGES for n in import_module(f"{__name__}.{package}").__all__)]
    for package in _PACKAGES:
        module = import_module(f"{__name__}.{package}")
        if name in module.__all__:
            return getattr(module, name)
    raise AttributeError(f"module 'hf_contrastive' has no attribute {name!r}")
