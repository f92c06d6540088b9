"""hf_contrastive: contrastive fine-tuning of text-embedding models (SimCSE, DeCLUTR, SFT+contrastive) as
drop-in `transformers.Trainer` subclasses and sentence-transformers losses.

The public names are imported on first use, so `import hf_contrastive` (and the CLI's `--help`) stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "DataError": "hf_contrastive.errors",
    "NonFiniteLossError": "hf_contrastive.errors",
    "ContrastiveConfig": "hf_contrastive.trainers.base_config",
    "ContrastiveTrainer": "hf_contrastive.trainers.base_trainer",
    "SimCSEConfig": "hf_contrastive.trainers.simcse_config",
    "SimCSETrainer": "hf_contrastive.trainers.simcse_trainer",
    "SimCSELoss": "hf_contrastive.losses.simcse",
    "DeCLUTRConfig": "hf_contrastive.trainers.declutr_config",
    "DeCLUTRTrainer": "hf_contrastive.trainers.declutr_trainer",
    "DeCLUTRLoss": "hf_contrastive.losses.declutr",
    "SupConLoss": "hf_contrastive.losses.supcon",
    "SFTContrastiveConfig": "hf_contrastive.trainers.sft_contrastive_config",
    "SFTContrastiveTrainer": "hf_contrastive.trainers.sft_contrastive_trainer",
    "SFTContrastiveLoss": "hf_contrastive.losses.sft_contrastive",
    "EmbeddingClassifier": "hf_contrastive.modeling.classifier",
    "build_sentence_transformer": "hf_contrastive.modeling.builder",
    "STSEvaluator": "hf_contrastive.evaluation.sts",
    "load_stsb": "hf_contrastive.evaluation.sts",
    "read_sts_file": "hf_contrastive.evaluation.sts",
    "evaluate_sts_suite": "hf_contrastive.evaluation.sts_suite",
    "evaluate_transfer_suite": "hf_contrastive.evaluation.transfer",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from .errors import DataError, NonFiniteLossError
    from .evaluation.sts import STSEvaluator, load_stsb, read_sts_file
    from .evaluation.sts_suite import evaluate_sts_suite
    from .evaluation.transfer import evaluate_transfer_suite
    from .losses.declutr import DeCLUTRLoss
    from .losses.sft_contrastive import SFTContrastiveLoss
    from .losses.simcse import SimCSELoss
    from .losses.supcon import SupConLoss
    from .modeling.builder import build_sentence_transformer
    from .modeling.classifier import EmbeddingClassifier
    from .trainers.base_config import ContrastiveConfig
    from .trainers.base_trainer import ContrastiveTrainer
    from .trainers.declutr_config import DeCLUTRConfig
    from .trainers.declutr_trainer import DeCLUTRTrainer
    from .trainers.sft_contrastive_config import SFTContrastiveConfig
    from .trainers.sft_contrastive_trainer import SFTContrastiveTrainer
    from .trainers.simcse_config import SimCSEConfig
    from .trainers.simcse_trainer import SimCSETrainer


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hf_contrastive' has no attribute {name!r}")
