"""Collators for inputs that sentence-transformers' own collator cannot build."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator

from ..settings import settings_values
from .spans import SpanSettings, sample_spans


@dataclass
class DeCLUTRDataCollator(SentenceTransformerDataCollator):
    """Samples DeCLUTR spans from each document of a batch, then tokenizes them as sentence-transformers does.

    Takes rows of `prepare_documents` (`text`, `token_starts`, `token_ends`, `doc_index`) and gives the loss the
    columns `(anchor, positive_0, ..., positive_{P-1})`, one row per anchor. A span is the exact substring of the
    document from its first token's start to its last token's end. Each document's rng is seeded by
    `(seed, epoch, doc_index)`, so spans are new every epoch, identical after `resume_from_checkpoint`, and
    independent of batching and dataloader workers. The trainer sets `epoch` at the start of every epoch.

    >>> spans = SpanSettings(num_anchors=1, num_positives=2, min_span_len=4, max_span_len=16)
    >>> collator = DeCLUTRDataCollator(preprocess_fn=model.preprocess, spans=spans)
    >>> batch = collator([{"text": doc, "token_starts": starts, "token_ends": ends, "doc_index": 0}])
    >>> sorted(k for k in batch if k.endswith("input_ids"))
    ['anchor_input_ids', 'positive_0_input_ids', 'positive_1_input_ids']
    """

    spans: SpanSettings = field(default_factory=SpanSettings)
    seed: int = 0
    epoch: int = 0

    def span_rows(self, document: dict[str, Any]) -> list[dict[str, str]]:
        """The anchor/positive texts of one document for the current epoch."""
        starts, ends, text = document["token_starts"], document["token_ends"], document["text"]
        anchors, positives = sample_spans(len(starts), **settings_values(self.spans, SpanSettings),
                                          rng=np.random.default_rng([self.seed, self.epoch, document["doc_index"]]))

        def cut(span: tuple[int, int]) -> str:
            return text[starts[span[0]]: ends[span[1] - 1]]

        return [
            {"anchor": cut(anchor), **{f"positive_{k}": cut(span) for k, span in enumerate(spans)}}
            for anchor, spans in zip(anchors, positives)
        ]

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        return super().__call__([row for document in features for row in self.span_rows(document)])
