"""Pure tensor math for the contrastive objectives: embeddings in, a scalar out, no model inside."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def cosine_logits(queries: Tensor, candidates: Tensor, temperature: float) -> Tensor:
    """Cosine similarity of every query with every candidate, divided by `temperature`, in fp32 (or float64).

    Under mixed precision (`torch.autocast`) the embeddings may be bf16 or fp16: they are upcast and the product
    runs outside autocast, so that the softmax over the logits (and everything the objectives compute from them)
    sees fp32 similarities, not ones rounded to bf16's 8 bits (~0.004 near 1, ~0.08 after a temperature of 0.05).
    The cost is one `(B, D) x (D, N)` product in fp32, small beside the encoder's.

    >>> cosine_logits(torch.eye(2), torch.eye(2), temperature=0.5)
    tensor([[2., 0.],
            [0., 2.]])
    """
    dtype = torch.promote_types(torch.promote_types(queries.dtype, candidates.dtype), torch.float32)  # float64 stays
    with torch.autocast(queries.device.type, enabled=False):
        return F.normalize(queries.to(dtype), dim=-1) @ F.normalize(candidates.to(dtype), dim=-1).T / temperature


def info_nce(
    anchors: Tensor,
    positives: Tensor,
    negatives: Sequence[Tensor] = (),
    *,
    temperature: float,
    hard_negative_weight: float = 0.0,
    offset: int = 0,
    reduction: str = "mean",
) -> Tensor:
    """InfoNCE (NT-Xent) with in-batch negatives, as in SimCSE (Gao et al., 2021, eq. 1 and 5).

    Row `i` of the logits holds `cos(anchor_i, c) / temperature` for every candidate `c`: first all positives
    (column `offset + i` is the right answer, the others are in-batch negatives), then each block of `negatives`.
    `hard_negative_weight` is added to each row's *own* hard negative(s) after the temperature scaling, i.e. it
    is the logarithm of SimCSE's weight α (`hard_negative_weight=0` is α=1, no re-weighting).

    Args:
        anchors (`Tensor` of shape `(B, D)`): the queries.
        positives (`Tensor` of shape `(N, D)`, `N >= offset + B`): `positives[offset + i]` is the positive of
            `anchors[i]`; the other rows are negatives (e.g. the positives of other processes, gathered).
        negatives (sequence of `Tensor` of shape `(N, D)`, *optional*): hard-negative columns; every one of
            them is a negative for every anchor.
        temperature (`float`): softmax temperature, > 0.
        hard_negative_weight (`float`, *optional*, defaults to `0.0`): added to the logit of each row's own hard
            negative(s).
        offset (`int`, *optional*, defaults to `0`): where this process's rows start in gathered candidates.
        reduction (`str`, *optional*, defaults to `"mean"`): `"mean"` or `"sum"` over the rows.

    Returns:
        The mean (or sum) cross-entropy over the `B` rows (a 0-dim tensor).

    >>> x = torch.eye(3)
    >>> round(info_nce(x, x, temperature=1.0).item(), 4)
    0.5514
    """
    candidates = torch.cat([positives, *negatives], dim=0)
    logits = cosine_logits(anchors, candidates, temperature)
    block = positives.size(0)
    own = offset + torch.arange(anchors.size(0), device=anchors.device)  # each row's positive column
    if negatives and hard_negative_weight != 0.0:
        rows = torch.arange(anchors.size(0), device=anchors.device)
        own_negative_columns = own[:, None] + block * torch.arange(1, len(negatives) + 1, device=anchors.device)
        weights = torch.zeros_like(logits)
        weights[rows[:, None], own_negative_columns] = hard_negative_weight
        logits = logits + weights
    return F.cross_entropy(logits, own, reduction=reduction)


def nt_xent(
    anchors: Tensor,
    positives: Tensor,
    *,
    temperature: float,
    all_anchors: Tensor | None = None,
    all_positives: Tensor | None = None,
    offset: int = 0,
    reduction: str = "mean",
) -> Tensor:
    """NT-Xent (SimCLR; pytorch-metric-learning's `NTXentLoss` as DeCLUTR uses it) over `2N` embeddings.

    The `2N` rows are `[anchors; positives]`; row `i` has one positive (its partner: `positives[i]` for `anchors[i]`
    and the reverse) and every other row except itself as a negative (other anchors included, even from the same
    document). Each of the `2N` (row, partner) pairs contributes `-log softmax` over that row's `2N - 1` candidates;
    the result is their mean.

    Args:
        anchors, positives (`Tensor` of shape `(B, D)`): this process's rows.
        temperature (`float`): softmax temperature, > 0.
        all_anchors, all_positives (`Tensor` of shape `(N, D)`, *optional*): the candidates, gathered from every
            process (defaults: `anchors`, `positives`); this process's rows are rows `offset .. offset + B` of each.
        offset (`int`, *optional*, defaults to `0`): where this process's rows start in the gathered ones.
        reduction (`str`, *optional*, defaults to `"mean"`): `"mean"` or `"sum"` over this process's `2B` rows.

    Returns:
        The mean (or sum) over this process's `2B` rows.

    >>> round(nt_xent(torch.eye(2), torch.eye(2), temperature=1.0).item(), 4)
    0.5514
    """
    all_anchors = anchors if all_anchors is None else all_anchors
    all_positives = positives if all_positives is None else all_positives
    total = all_anchors.size(0)
    logits = cosine_logits(torch.cat([anchors, positives]), torch.cat([all_anchors, all_positives]), temperature)
    own = offset + torch.arange(anchors.size(0), device=logits.device)
    self_columns = torch.cat([own, own + total])
    rows = torch.arange(logits.size(0), device=logits.device)
    self_mask = torch.zeros_like(logits, dtype=torch.bool)
    self_mask[rows, self_columns] = True
    logits = logits.masked_fill(self_mask, float("-inf"))
    return F.cross_entropy(logits, torch.cat([own + total, own]), reduction=reduction)


def supcon(
    embeddings: Tensor,
    labels: Tensor,
    *,
    temperature: float,
    base_temperature: float | None = None,
    candidates: Tensor | None = None,
    candidate_labels: Tensor | None = None,
    self_columns: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Supervised contrastive loss (Khosla et al., 2020, eq. 2, "L_out"), over `N` embeddings with class labels.

    Every embedding is an anchor; its positives are the other embeddings with the same label, and its denominator
    runs over all other embeddings. For anchor `i` with positives `P(i)`:
    `L_i = -(temperature / base_temperature) / |P(i)| * sum_{p in P(i)} log softmax_{a != i}(cos(z_i, z_a) / temperature)[p]`.
    The result is the mean of `L_i` over the anchors that have at least one positive (an anchor alone in its class
    has no defined term and is left out; the reference code counts it as 0 in the mean). With no positive pair at
    all the loss is 0. For several views per example, concatenate the views and repeat the labels.

    Args:
        embeddings (`Tensor` of shape `(N, D)`), labels (`Tensor` of shape `(N,)`): the anchors and their classes.
        temperature (`float`): softmax temperature, > 0.
        base_temperature (`float`, *optional*): the loss is scaled by `temperature / base_temperature`, as the
            reference code; `None` is `temperature` (no scaling).
        candidates (`Tensor` of shape `(M, D)`), candidate_labels (`Tensor` of shape `(M,)`), *optional*: what the
            anchors are contrasted with (defaults: the anchors), e.g. the rows of every process, gathered.
        self_columns (`Tensor` of shape `(N,)`, *optional*): the column of each anchor itself among the candidates
            (left out of its denominator); defaults to `0 .. N - 1`.
        reduction (`str`, *optional*, defaults to `"mean"`): `"mean"` or `"sum"` of the defined `L_i`.

    >>> round(supcon(torch.eye(4), torch.tensor([0, 0, 1, 1]), temperature=0.07).item(), 4)
    1.0986
    """
    candidates = embeddings if candidates is None else candidates
    candidate_labels = labels if candidate_labels is None else candidate_labels
    rows = torch.arange(embeddings.size(0), device=embeddings.device)
    self_mask = torch.zeros(embeddings.size(0), candidates.size(0), dtype=torch.bool, device=embeddings.device)
    self_mask[rows, rows if self_columns is None else self_columns] = True
    logits = cosine_logits(embeddings, candidates, temperature).masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (labels[:, None] == candidate_labels[None, :]) & ~self_mask
    per_anchor = positives.sum(dim=1)
    has_positive = per_anchor > 0
    if not has_positive.any():  # zero, still through the (gathered) candidates: the same backward on every process
        return (embeddings.sum() + candidates.sum()) * 0.0
    mean_log_prob = log_prob.masked_fill(~positives, 0.0).sum(dim=1)[has_positive] / per_anchor[has_positive]
    scale = 1.0 if base_temperature is None else temperature / base_temperature
    terms = -scale * mean_log_prob
    return terms.mean() if reduction == "mean" else terms.sum()


def anchors_with_positives(labels: Tensor) -> int:
    """How many of the rows share their label with another row (the anchors `supcon` averages over).

    >>> anchors_with_positives(torch.tensor([0, 1, 0, 2]))
    2
    """
    _, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    return int((counts[inverse] > 1).sum())
