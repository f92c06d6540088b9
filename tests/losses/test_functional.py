import typing

import pytest
import torch

from hf_contrastive.losses.functional import (Negatives, cosine_logits, info_nce, nt_xent,
                                             reference_info_nce)
from tests.helpers.references import naive_info_nce, naive_nt_xent, naive_reference_info_nce

NEGATIVES = typing.get_args(Negatives)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("num_negatives", [0, 1, 2])
@pytest.mark.parametrize("temperature,hard_negative_weight", [(0.05, 0.0), (1.0, 0.0), (0.1, 0.7), (0.05, -1.5)])
def test_info_nce_matches_naive_loop(dtype, num_negatives, temperature, hard_negative_weight):
    generator = torch.Generator().manual_seed(num_negatives)
    anchors, positives = (torch.randn(5, 4, generator=generator, dtype=dtype) for _ in range(2))
    negatives = [torch.randn(5, 4, generator=generator, dtype=dtype) for _ in range(num_negatives)]
    got = info_nce(anchors, positives, negatives, temperature=temperature, hard_negative_weight=hard_negative_weight)
    expected = naive_info_nce(anchors, positives, negatives, temperature, hard_negative_weight)
    assert got.dtype == dtype
    tolerance = 1e-10 if dtype == torch.float64 else 1e-4
    assert got.item() == pytest.approx(expected, rel=tolerance, abs=tolerance)


def test_hard_negative_weight_only_touches_own_negative():
    anchors = torch.eye(3, dtype=torch.float64)
    positives = torch.eye(3, dtype=torch.float64)
    negatives = [anchors.roll(1, dims=0)]  # each row's own negative is another row's anchor
    unweighted = info_nce(anchors, positives, negatives, temperature=1.0)
    weighted = info_nce(anchors, positives, negatives, temperature=1.0, hard_negative_weight=2.0)
    assert weighted > unweighted
    # With no negative columns the weight has nothing to act on.
    assert info_nce(anchors, positives, temperature=1.0, hard_negative_weight=2.0) == info_nce(
        anchors, positives, temperature=1.0
    )


def test_info_nce_gradients_match_naive_autograd():
    generator = torch.Generator().manual_seed(0)
    anchors = torch.randn(4, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    positives = torch.randn(4, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    info_nce(anchors, positives, temperature=0.1).backward()
    fast = anchors.grad.clone()
    anchors.grad = None
    rows = []
    for i in range(4):
        logits = torch.stack([torch.cosine_similarity(anchors[i], p, dim=0) / 0.1 for p in positives])
        rows.append(torch.logsumexp(logits, 0) - logits[i])
    torch.stack(rows).mean().backward()
    assert torch.allclose(fast, anchors.grad)


def test_cosine_logits_is_scale_invariant():
    x = torch.randn(3, 5)
    assert torch.allclose(cosine_logits(x, x, 0.5), cosine_logits(7 * x, x, 0.5))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("temperature", [0.05, 0.5, 1.0])
def test_nt_xent_matches_naive_loop(dtype, temperature):
    generator = torch.Generator().manual_seed(7)
    anchors, positives = (torch.randn(6, 5, generator=generator, dtype=dtype) for _ in range(2))
    got = nt_xent(anchors, positives, temperature=temperature)
    tolerance = 1e-10 if dtype == torch.float64 else 1e-4
    assert got.item() == pytest.approx(naive_nt_xent(anchors, positives, temperature), rel=tolerance, abs=tolerance)



@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("negatives", NEGATIVES)
@pytest.mark.parametrize("temperature", [0.05, 0.5])
def test_reference_info_nce_matches_naive_loop(dtype, negatives, temperature):
    generator = torch.Generator().manual_seed(3)
    queries, references = (torch.randn(6, 5, generator=generator, dtype=dtype) for _ in range(2))
    got = reference_info_nce(queries, references, negatives=negatives, temperature=temperature)
    tolerance = 1e-10 if dtype == torch.float64 else 1e-4
    expected = naive_reference_info_nce(queries, references, negatives, temperature)
    assert got.item() == pytest.approx(expected, rel=tolerance, abs=tolerance)


def test_reference_info_nce_variants_differ_and_reference_is_simcse_layout():
    generator = torch.Generator().manual_seed(4)
    queries, references = (torch.randn(5, 4, generator=generator, dtype=torch.float64) for _ in range(2))
    values = {n: reference_info_nce(queries, references, negatives=n, temperature=0.1).item()
              for n in NEGATIVES}
    assert len(set(values.values())) == 3
    assert values["reference"] == pytest.approx(info_nce(queries, references, temperature=0.1).item(), rel=1e-12)
    assert values["both"] > max(values["fine_tuned"], values["reference"])  # the most negatives


@pytest.mark.parametrize("negatives", NEGATIVES)
def test_reference_info_nce_gradients_match_naive_autograd(negatives):
    """The gradients of the queries (the fine-tuned candidates included) and of the references equal autograd through
    a row-by-row loop."""
    generator = torch.Generator().manual_seed(5)
    leaves = [torch.randn(4, 3, generator=generator, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    reference_info_nce(*leaves, negatives=negatives, temperature=0.1).backward()
    fast = [leaf.grad.clone() for leaf in leaves]
    for leaf in leaves:
        leaf.grad = None
    queries, references = leaves
    rows = []
    for i in range(4):
        logit = lambda a, b: torch.cosine_similarity(a, b, dim=0) / 0.1  # noqa: E731
        positive = logit(queries[i], references[i])
        candidates = [logit(queries[i], p) for p in references] if negatives != "fine_tuned" else [positive]
        candidates += [logit(queries[i], q) for j, q in enumerate(queries) if j != i and negatives != "reference"]
        rows.append(torch.logsumexp(torch.stack(candidates), 0) - positive)
    torch.stack(rows).mean().backward()
    for got, leaf in zip(fast, leaves):
        assert torch.allclose(got, leaf.grad)


@pytest.mark.parametrize("negatives", NEGATIVES)
def test_reference_info_nce_on_gathered_candidates_is_the_whole_batch_term(negatives):
    """A process's rows against every process's candidates (`offset`) sum to its share of the whole batch's terms."""
    generator = torch.Generator().manual_seed(6)
    queries, references = (torch.randn(7, 4, generator=generator, dtype=torch.float64) for _ in range(2))
    whole = reference_info_nce(queries, references, negatives=negatives, temperature=0.2, reduction="sum")
    parts = sum(reference_info_nce(queries[start:end], references[start:end], negatives=negatives, temperature=0.2,
                                   all_queries=queries, all_references=references, offset=start, reduction="sum")
                for start, end in ((0, 3), (3, 7)))
    assert parts.item() == pytest.approx(whole.item(), rel=1e-12)


def test_reference_info_nce_names_a_bad_negatives_value():
    with pytest.raises(ValueError, match=r"must be one of \('fine_tuned', 'reference', 'both'\), got 'all'"):
        reference_info_nce(torch.eye(2), torch.eye(2), negatives="all", temperature=0.1)
