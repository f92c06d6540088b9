"""Building SentenceTransformers with the poolers and heads the methods need."""

from .builder import build_sentence_transformer, is_sentence_transformer
from .pooling import POOLERS, pooling_modules, resolve_pooler

__all__ = ["POOLERS", "build_sentence_transformer", "is_sentence_transformer", "pooling_modules", "resolve_pooler"]
