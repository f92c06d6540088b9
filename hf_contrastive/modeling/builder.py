"""Model id or path -> `SentenceTransformer` with the requested pooler."""

from __future__ import annotations

import os

from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Transformer

from .pooling import pooling_modules, resolve_pooler

DEFAULT_POOLER = "cls"


def is_sentence_transformer(model_name_or_path: str) -> bool:
    """Whether `model_name_or_path` (a folder or a Hub id) is a saved SentenceTransformer (has `modules.json`)."""
    if os.path.isdir(model_name_or_path):
        return os.path.isfile(os.path.join(model_name_or_path, "modules.json"))
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        hf_hub_download(model_name_or_path, "modules.json")
    except (EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError):
        return False
    return True


def build_sentence_transformer(
    model_name_or_path: str,
    *,
    pooler: str | None = None,
    max_seq_length: int | None = None,
) -> SentenceTransformer:
    """Load `model_name_or_path` as a `SentenceTransformer` whose pooler is `pooler` (see `modeling.pooling`).

    Args:
        model_name_or_path (`str`): a Hub id or folder of either a plain transformers encoder or a saved
            SentenceTransformer.
        pooler (`str`, *optional*): `cls`, `cls_before_pooler`, `avg` (alias `mean`), `avg_first_last` or
            `avg_top2`. `None` keeps a SentenceTransformer's own modules and gives a plain encoder `cls`
            (SimCSE's default). Given for a SentenceTransformer, every module after its Transformer is replaced.
        max_seq_length (`int`, *optional*): truncation length; `None` keeps the model's.
    """
    if pooler is not None:
        pooler = resolve_pooler(pooler)
    if is_sentence_transformer(model_name_or_path):
        model = SentenceTransformer(model_name_or_path)
        if pooler is not None:
            transformer = model[0]
            if not isinstance(transformer, Transformer):
                raise ValueError(
                    f"`pooler={pooler!r}` needs a Transformer as the first module of {model_name_or_path!r}, "
                    f"found {type(transformer).__name__}."
                )
            model = SentenceTransformer(modules=[transformer, *pooling_modules(pooler, transformer)])
    else:
        transformer = Transformer(model_name_or_path)
        model = SentenceTransformer(modules=[transformer, *pooling_modules(pooler or DEFAULT_POOLER, transformer)])
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    return model
