"""Contrastive objectives: pure tensor math in `functional`, sentence-transformers losses beside it."""

from .declutr import DeCLUTRLoss
from .functional import cosine_logits, info_nce, nt_xent
from .simcse import SimCSELoss

__all__ = ["DeCLUTRLoss", "SimCSELoss", "cosine_logits", "info_nce", "nt_xent"]
