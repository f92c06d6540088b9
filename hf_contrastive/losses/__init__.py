"""Contrastive objectives: pure tensor math in `functional` (`info_nce`, `nt_xent`, `supcon`), sentence-transformers
losses beside it, each with the settings dataclass that declares its hyperparameters."""

from .base import ContrastiveLoss
from .declutr import DeCLUTRLoss, DeCLUTRSettings
from .consistency import ConsistencySettings
from .functional import cosine_logits, info_nce, nt_xent, pseudo_label_consistency, supcon
from .sft_contrastive import SFTContrastiveLoss, SFTContrastiveSettings
from .simcse import SimCSELoss, SimCSESettings
from .supcon import SupConLoss, SupConSettings

__all__ = ["ConsistencySettings", "ContrastiveLoss", "DeCLUTRLoss", "DeCLUTRSettings", "SFTContrastiveLoss",
           "SFTContrastiveSettings", "SimCSELoss", "SimCSESettings", "SupConLoss", "SupConSettings",
           "cosine_logits", "info_nce", "nt_xent", "pseudo_label_consistency", "supcon"]
