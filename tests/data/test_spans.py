import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from hf_contrastive.data.spans import min_document_tokens, sample_spans


@st.composite
def span_problems(draw, strategy=None):
    min_len = draw(st.integers(1, 40))
    max_len = draw(st.integers(2 * min_len if strategy == "adjacent" else min_len, 120))
    num_anchors = draw(st.integers(1, 4))
    num_positives = draw(st.integers(1, 4))
    num_tokens = draw(st.integers(min_document_tokens(num_anchors, max_len), 3000))
    return dict(num_tokens=num_tokens, num_anchors=num_anchors, num_positives=num_positives, min_span_len=min_len,
                max_span_len=max_len, sampling_strategy=strategy, seed=draw(st.integers(0, 2**32 - 1)))


def run(problem):
    problem = dict(problem)
    seed = problem.pop("seed")
    num_tokens = problem.pop("num_tokens")
    return sample_spans(num_tokens, rng=np.random.default_rng(seed), **problem)


@settings(max_examples=300, deadline=None)
@given(span_problems(strategy=None))
def test_default_strategy_properties(problem):
    anchors, positives = run(problem)
    n, low, high = problem["num_tokens"], problem["min_span_len"], problem["max_span_len"]
    assert len(anchors) == problem["num_anchors"]
    assert all(len(p) == problem["num_positives"] for p in positives)
    for (a0, a1), spans in zip(anchors, positives):
        assert 0 <= a0 < a1 <= n and low <= a1 - a0 <= high
        for p0, p1 in spans:
            assert 0 <= p0 < p1 <= n and low <= p1 - p0 <= high
            assert p1 >= a0 and p0 <= a1, "a positive overlaps, touches or is inside its anchor"
    ordered = sorted(anchors)
    assert all(left[1] <= right[0] for left, right in zip(ordered, ordered[1:])), "anchors never overlap"


@settings(max_examples=200, deadline=None)
@given(span_problems(strategy="subsuming"))
def test_subsuming_positives_are_inside_the_anchor(problem):
    anchors, positives = run(problem)
    for (a0, a1), spans in zip(anchors, positives):
        assert all(a0 <= p0 < p1 <= a1 and p1 - p0 >= problem["min_span_len"] for p0, p1 in spans)


@settings(max_examples=200, deadline=None)
@given(span_problems(strategy="adjacent"))
def test_adjacent_positives_border_the_anchor(problem):
    anchors, positives = run(problem)
    for (a0, a1), spans in zip(anchors, positives):
        for p0, p1 in spans:
            assert p1 == a0 or p0 == a1
            assert 0 <= p0 and p1 <= problem["num_tokens"]
            assert problem["min_span_len"] <= p1 - p0 <= problem["max_span_len"]


@settings(max_examples=50, deadline=None)
@given(span_problems())
def test_same_seed_same_spans(problem):
    assert run(problem) == run(problem)


def test_lengths_follow_the_beta_shapes():
    """Anchor lengths ~ Beta(4, 2), positive lengths ~ Beta(2, 4), scaled to [min, max] (fixed seed)."""
    rng = np.random.default_rng(1234)
    low, high = 10, 2010
    anchor_lengths, positive_lengths = [], []
    for _ in range(1500):
        anchors, positives = sample_spans(4 * high, num_anchors=1, num_positives=2, min_span_len=low,
                                          max_span_len=high, rng=rng)
        anchor_lengths += [b - a for a, b in anchors]
        positive_lengths += [b - a for spans in positives for a, b in spans]
    to_unit = lambda lengths: (np.asarray(lengths) - low + 0.5) / (high - low)  # noqa: E731 (undo int() flooring)
    assert stats.kstest(to_unit(anchor_lengths), stats.beta(4, 2).cdf).pvalue > 0.01
    assert stats.kstest(to_unit(positive_lengths), stats.beta(2, 4).cdf).pvalue > 0.01
    # The test can tell the two shapes apart.
    assert stats.kstest(to_unit(anchor_lengths), stats.beta(2, 4).cdf).pvalue < 1e-6
    assert stats.kstest(to_unit(positive_lengths), stats.beta(4, 2).cdf).pvalue < 1e-6


def test_short_document_error_names_length_and_requirement():
    with pytest.raises(ValueError, match=r"199 tokens is too short: it needs at least 200 \(.* = 2 \* 50 \* 2\)"):
        sample_spans(199, num_anchors=2, num_positives=1, min_span_len=5, max_span_len=50,
                     rng=np.random.default_rng(0))


@pytest.mark.parametrize("kwargs,message", [
    ({"num_anchors": 0}, "`num_anchors` must be >= 1, got 0"),
    ({"num_positives": 0}, "`num_positives` must be >= 1, got 0"),
    ({"min_span_len": 60}, r"`max_span_len` must be >= `min_span_len` \(60\), got 50"),
    ({"sampling_strategy": "nearby"}, "`sampling_strategy` must be one of .* got 'nearby'"),
    ({"sampling_strategy": "adjacent", "min_span_len": 30}, "needs `min_span_len` <= `max_span_len` / 2"),
])
def test_bad_settings_name_the_field(kwargs, message):
    settings_ = dict(num_anchors=1, num_positives=1, min_span_len=5, max_span_len=50) | kwargs
    with pytest.raises(ValueError, match=message):
        sample_spans(1000, rng=np.random.default_rng(0), **settings_)
