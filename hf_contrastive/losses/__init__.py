"""Contrastive objectives: pure tensor math in `functional` (`info_nce`, `nt_xent`, `supcon`), sentence-transformers
losses beside it."""

from .declutr import DeCLUTRLoss
from .functional import cosine_logits, info_nce, nt_xent, supcon
from .sft_contrastive import SFTContrastiveLoss
from .simcse import SimCSELoss
from .supcon import SupConLoss

__all__ = ["DeCLUTRLoss", "SFTContrastiveLoss", "SimCSELoss", "SupConLoss", "cosine_logits", "info_nce", "nt_xent",
           "supcon"]
