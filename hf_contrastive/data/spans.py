"""DeCLUTR's anchor/positive span sampling (Giorgi et al., 2021, §2.1; `sample_anchor_positive_pairs` in the
original `declutr/common/contrastive_utils.py`) over token positions, as a pure function with the rng passed in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..settings import Settings, check_choice

SamplingStrategy = Literal["subsuming", "adjacent"]
Span = tuple[int, int]  # [start, end) token positions


def min_document_tokens(num_anchors: int, max_span_len: int) -> int:
    """The fewest tokens a document needs: `num_anchors * max_span_len * 2` (as the original)."""
    return num_anchors * max_span_len * 2


def check_span_settings(num_anchors: int, num_positives: int, min_span_len: int, max_span_len: int,
                        sampling_strategy: SamplingStrategy | None) -> None:
    """`ValueError` naming the field and value for settings no document could satisfy."""
    for name, value in (("num_anchors", num_anchors), ("num_positives", num_positives), ("min_span_len", min_span_len)):
        if value < 1:
            raise ValueError(f"`{name}` must be >= 1, got {value}.")
    if max_span_len < min_span_len:
        raise ValueError(f"`max_span_len` must be >= `min_span_len` ({min_span_len}), got {max_span_len}.")
    check_choice(sampling_strategy, SamplingStrategy | None, "sampling_strategy")
    if sampling_strategy == "adjacent" and 2 * min_span_len > max_span_len:
        raise ValueError(
            f"`sampling_strategy='adjacent'` needs `min_span_len` <= `max_span_len` / 2 so that an adjacent positive "
            f"always fits; got min_span_len={min_span_len}, max_span_len={max_span_len}."
        )


@dataclass
class SpanSettings(Settings):
    """
    DeCLUTR's span sampling (the `DeCLUTRDataCollator`'s and `DeCLUTRConfig`'s fields), with the original's defaults:

    num_anchors (`int`, *optional*, defaults to `2`): anchor spans sampled per document.
    num_positives (`int`, *optional*, defaults to `2`): positive spans per anchor (averaged into one embedding).
    min_span_len (`int`, *optional*, defaults to `32`): shortest span, in tokens of the model's tokenizer.
    max_span_len (`int`, *optional*, defaults to `512`): longest span; documents need
        `num_anchors * max_span_len * 2` tokens. Spans longer than the model's `max_seq_length` are truncated when
        tokenized (the original caps spans at the model's 512 positions the same way).
    sampling_strategy (`str`, *optional*): `None` (positives overlap, are adjacent to, or inside their anchor),
        `"subsuming"` or `"adjacent"`.
    """

    num_anchors: int = field(default=2, metadata={"help": "Anchor spans per document."})
    num_positives: int = field(default=2, metadata={"help": "Positive spans per anchor (averaged)."})
    min_span_len: int = field(default=32, metadata={"help": "Shortest span in tokens."})
    max_span_len: int = field(default=512, metadata={"help": "Longest span in tokens."})
    sampling_strategy: SamplingStrategy | None = field(
        default=None, metadata={"help": "None: positives overlap, are adjacent to or inside their anchor."}
    )

    def check_fields(self) -> None:
        check_span_settings(self.num_anchors, self.num_positives, self.min_span_len, self.max_span_len,
                            self.sampling_strategy)


def _beta_length(rng: np.random.Generator, a: float, b: float, low: int, high: int) -> int:
    return int(rng.beta(a, b) * (high - low) + low)


def sample_spans(
    num_tokens: int,
    *,
    num_anchors: int,
    num_positives: int,
    min_span_len: int,
    max_span_len: int,
    rng: np.random.Generator,
    sampling_strategy: str | None = None,
) -> tuple[list[Span], list[list[Span]]]:
    """Sample `num_anchors` anchor spans and, for each, `num_positives` positive spans from a document of
    `num_tokens` tokens.

    - Anchor lengths follow `Beta(4, 2)` scaled to `[min_span_len, max_span_len]` (skewed long); anchors start in
      distinct `max_span_len`-wide cells, and a used cell's neighbours are removed, so anchors never overlap.
    - Positive lengths follow `Beta(2, 4)` scaled to `[min_span_len, max_span_len]` (skewed short). By default a
      positive may overlap, be adjacent to, or be subsumed by its anchor; `"subsuming"` keeps it inside the anchor
      (length scaled to `[min_span_len, anchor length]`), `"adjacent"` puts it right before or after the anchor.

    Args:
        num_tokens (`int`): document length; at least `num_anchors * max_span_len * 2`.
        rng (`np.random.Generator`): the only source of randomness.

    Returns:
        `(anchors, positives)`: `anchors[i]` is `(start, end)`; `positives[i]` lists the spans of anchor `i`.

    >>> anchors, positives = sample_spans(400, num_anchors=2, num_positives=2, min_span_len=10, max_span_len=100,
    ...                                   rng=np.random.default_rng(0))
    >>> len(anchors), [len(p) for p in positives]
    (2, [2, 2])
    """
    check_span_settings(num_anchors, num_positives, min_span_len, max_span_len, sampling_strategy)
    required = min_document_tokens(num_anchors, max_span_len)
    if num_tokens < required:
        raise ValueError(
            f"A document of {num_tokens} tokens is too short: it needs at least {required} "
            f"(num_anchors * max_span_len * 2 = {num_anchors} * {max_span_len} * 2)."
        )
    cell_starts = list(range(0, num_tokens - max_span_len + 1, max_span_len))
    anchors: list[Span] = []
    positives: list[list[Span]] = []
    for i in range(num_anchors):
        anchor_len = _beta_length(rng, 4, 2, min_span_len, max_span_len)
        remaining = num_anchors - i
        # As the original: near the end, take the first or last cell so the later anchors still find one.
        if len(cell_starts) // remaining < remaining:
            cell = int(rng.choice([0, len(cell_starts) - 1]))
        else:
            cell = int(rng.integers(len(cell_starts)))
        anchor_start = int(rng.integers(cell_starts[cell], cell_starts[cell] + max_span_len - anchor_len + 1))
        del cell_starts[max(0, cell - 1): cell + 2]
        anchor_end = anchor_start + anchor_len
        anchors.append((anchor_start, anchor_end))
        positives.append([
            _sample_positive(rng, anchor_start, anchor_end, num_tokens, min_span_len, max_span_len, sampling_strategy)
            for _ in range(num_positives)
        ])
    return anchors, positives


def _sample_positive(rng: np.random.Generator, anchor_start: int, anchor_end: int, num_tokens: int,
                     min_span_len: int, max_span_len: int, sampling_strategy: str | None) -> Span:
    if sampling_strategy == "subsuming":
        length = _beta_length(rng, 2, 4, min_span_len, anchor_end - anchor_start)
        start = int(rng.integers(anchor_start, anchor_end - length + 1))
    elif sampling_strategy == "adjacent":
        room = min(max_span_len, max(anchor_start, num_tokens - anchor_end))
        length = _beta_length(rng, 2, 4, min_span_len, room)
        starts = [s for s, fits in ((anchor_start - length, anchor_start - length >= 0),
                                    (anchor_end, anchor_end + length <= num_tokens)) if fits]
        start = int(rng.choice(starts))
    else:
        length = _beta_length(rng, 2, 4, min_span_len, max_span_len)
        start = int(rng.integers(max(0, anchor_start - length), min(anchor_end, num_tokens - length) + 1))
    return start, start + length
