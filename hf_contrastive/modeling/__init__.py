"""Building SentenceTransformers with the poolers and heads the methods need."""

from .builder import build_sentence_transformer, is_sentence_transformer
from .classifier import EmbeddingClassifier
from .pooling import POOLERS, pooling_modules, resolve_pooler

__all__ = ["EmbeddingClassifier", "POOLERS", "build_sentence_transformer", "is_sentence_transformer",
           "pooling_modules", "resolve_pooler"]
