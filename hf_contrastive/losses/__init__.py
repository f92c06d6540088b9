"""Contrastive objectives: pure tensor math in `functional`, sentence-transformers losses beside it."""

from .functional import cosine_logits, info_nce
from .simcse import SimCSELoss

__all__ = ["SimCSELoss", "cosine_logits", "info_nce"]
