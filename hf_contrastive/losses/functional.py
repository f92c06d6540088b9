"""Pure tensor math for the contrastive objectives: embeddings in, a scalar out, no model inside."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..settings import check_choice


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


AnchorsWithoutPositive = Literal["exclude", "zero"]
ContrastMode = Literal["all", "one"]


def supcon(
    embeddings: Tensor,
    labels: Tensor,
    *,
    temperature: float,
    anchors_without_positive: AnchorsWithoutPositive,
    contrast_mode: ContrastMode,
    num_views: int = 1,
    base_temperature: float | None = None,
    candidates: Tensor | None = None,
    candidate_labels: Tensor | None = None,
    self_columns: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Supervised contrastive loss (Khosla et al., 2020, eq. 2, "L_out"), over `N` embeddings with class labels.

    The anchors are every embedding (`contrast_mode="all"`) or those of the first view (`"one"`); an anchor's
    positives are the other embeddings with its label, and its denominator runs over all other embeddings. For anchor
    `i` with positives `P(i)`:
    `L_i = -(temperature / base_temperature) / |P(i)| * sum_{p in P(i)} log softmax_{a != i}(cos(z_i, z_a) / temperature)[p]`.
    An anchor alone in its class has no defined term: `anchors_without_positive="exclude"` leaves it out of the mean
    (as pytorch-metric-learning's `SupConLoss`), `"zero"` counts it as 0 in the mean, as the reference code
    (HobbitLong/SupContrast `losses.py`, `SupConLoss.forward`, lines 98-104), whose loss is then `N_pos / N` times
    the other. With no positive pair at all the loss is 0. For several views per example, concatenate the views
    (`torch.cat(views)`, the reference's `contrast_feature`) and repeat the labels.

    Args:
        embeddings (`Tensor` of shape `(N, D)`), labels (`Tensor` of shape `(N,)`): the rows and their classes,
            `num_views` views of `N / num_views` examples one after the other.
        temperature (`float`): softmax temperature, > 0.
        anchors_without_positive (`str`): `exclude` or `zero`, see above.
        contrast_mode (`str`): `all` (every row is an anchor) or `one` (only the first view's `N / num_views` rows,
            the reference's `contrast_mode='one'`, lines 59-61); the candidates are every row either way.
        num_views (`int`, *optional*, defaults to `1`): views in `embeddings` (only `contrast_mode="one"` needs it).
        base_temperature (`float`, *optional*): the loss is scaled by `temperature / base_temperature`, as the
            reference code; `None` is `temperature` (no scaling).
        candidates (`Tensor` of shape `(M, D)`), candidate_labels (`Tensor` of shape `(M,)`), *optional*: what the
            anchors are contrasted with (defaults: `embeddings`, `labels`), e.g. the rows of every process, gathered.
        self_columns (`Tensor` of shape `(N,)`, *optional*): the column of each row itself among the candidates
            (left out of its denominator); defaults to `0 .. N - 1`.
        reduction (`str`, *optional*, defaults to `"mean"`): `"mean"` (over the anchors counted, see
            `supcon_anchor_count`) or `"sum"` of the `L_i`.

    >>> labels = torch.tensor([0, 0, 1, 1])
    >>> round(supcon(torch.eye(4), labels, temperature=0.07, anchors_without_positive="exclude",
    ...              contrast_mode="all").item(), 4)
    1.0986
    """
    check_choice(anchors_without_positive, AnchorsWithoutPositive, "anchors_without_positive")
    check_choice(contrast_mode, ContrastMode, "contrast_mode")
    candidates = embeddings if candidates is None else candidates
    candidate_labels = labels if candidate_labels is None else candidate_labels
    rows = torch.arange(embeddings.size(0), device=embeddings.device)
    self_columns = rows if self_columns is None else self_columns
    if contrast_mode == "one":  # the first view's rows are the anchors
        first = slice(0, embeddings.size(0) // num_views)
        embeddings, labels, self_columns, rows = embeddings[first], labels[first], self_columns[first], rows[first]
    self_mask = torch.zeros(embeddings.size(0), candidates.size(0), dtype=torch.bool, device=embeddings.device)
    self_mask[rows, self_columns] = True
    logits = cosine_logits(embeddings, candidates, temperature).masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (labels[:, None] == candidate_labels[None, :]) & ~self_mask
    per_anchor = positives.sum(dim=1)
    has_positive = per_anchor > 0
    if not has_positive.any():  # zero, still through the (gathered) candidates: the same backward on every process
        return (embeddings.sum() + candidates.sum()) * 0.0
    mean_log_prob = log_prob.masked_fill(~positives, 0.0).sum(dim=1) / per_anchor.clamp(min=1)  # 0 without positive
    scale = 1.0 if base_temperature is None else temperature / base_temperature
    terms = -scale * mean_log_prob
    if anchors_without_positive == "exclude":
        terms = terms[has_positive]
    return terms.mean() if reduction == "mean" else terms.sum()


def supcon_anchor_count(labels: Tensor, *, anchors_without_positive: AnchorsWithoutPositive,
                        contrast_mode: ContrastMode, num_views: int = 1) -> int:
    """The number of anchors `supcon`'s mean divides by, for rows with these `labels` (all views, each row also a
    candidate): the anchors (every row, or the first view's with `contrast_mode="one"`) that share their label with
    another row (`anchors_without_positive="exclude"`), or all of them (`"zero"`).

    >>> labels = torch.tensor([0, 1, 0, 2])
    >>> supcon_anchor_count(labels, anchors_without_positive="exclude", contrast_mode="all")
    2
    >>> supcon_anchor_count(labels, anchors_without_positive="zero", contrast_mode="all")
    4
    """
    anchors = labels.numel() // num_views if contrast_mode == "one" else labels.numel()
    if anchors_without_positive == "zero":
        return anchors
    _, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    return int((counts[inverse] > 1)[:anchors].sum())


Negatives = Literal["fine_tuned", "reference", "both"]


def reference_info_nce(
    queries: Tensor,
    references: Tensor,
    *,
    negatives: Negatives,
    temperature: float,
    all_queries: Tensor | None = None,
    all_references: Tensor | None = None,
    offset: int = 0,
    reduction: str = "mean",
) -> Tensor:
    """InfoNCE that anchors each fine-tuned embedding `q_i` to the frozen pretrained embedding `p_i` of the same
    text (SFT+contrastive's term), with the negatives chosen by `negatives`:

    - `fine_tuned` (the method's definition):
      `-log exp(s(q_i, p_i)) / (exp(s(q_i, p_i)) + sum_{j != i} exp(s(q_i, q_j)))`, the other rows' *fine-tuned*
      embeddings, the positive kept in the denominator;
    - `reference`: `-log exp(s(q_i, p_i)) / sum_j exp(s(q_i, p_j))`, the other rows' *reference* embeddings (SimCSE's
      layout, `info_nce(queries, references)`);
    - `both`: `-log exp(s(q_i, p_i)) / (sum_j exp(s(q_i, p_j)) + sum_{j != i} exp(s(q_i, q_j)))`;

    where `s(a, b) = cos(a, b) / temperature`. `q_i` is never its own candidate.

    Args:
        queries, references (`Tensor` of shape `(B, D)`): this process's fine-tuned and reference embeddings.
        negatives (`str`): `fine_tuned`, `reference` or `both`.
        temperature (`float`): softmax temperature, > 0.
        all_queries, all_references (`Tensor` of shape `(N, D)`, *optional*): the candidates, gathered from every
            process (defaults: `queries`, `references`); this process's rows are rows `offset .. offset + B` of each.
        offset (`int`, *optional*, defaults to `0`): where this process's rows start in the gathered ones.
        reduction (`str`, *optional*, defaults to `"mean"`): `"mean"` or `"sum"` over this process's `B` rows.

    Examples:
        >>> x = torch.eye(3)
        >>> [round(reference_info_nce(x, x, negatives=n, temperature=1.0).item(), 4)
        ...  for n in ("fine_tuned", "reference", "both")]
        [0.5514, 0.5514, 0.9048]
    """
    check_choice(negatives, Negatives, "negatives")
    all_queries = queries if all_queries is None else all_queries
    all_references = references if all_references is None else all_references
    own = offset + torch.arange(queries.size(0), device=queries.device)
    rows = torch.arange(queries.size(0), device=queries.device)
    if negatives == "reference":
        return F.cross_entropy(cosine_logits(queries, all_references, temperature), own, reduction=reduction)
    fine_tuned = cosine_logits(queries, all_queries, temperature)
    fine_tuned = fine_tuned.index_put((rows, own), fine_tuned.new_tensor(float("-inf")))  # not q_i against itself
    if negatives == "both":
        logits, target = torch.cat([cosine_logits(queries, all_references, temperature), fine_tuned], dim=1), own
    else:  # the positive first, then the other rows' fine-tuned embeddings
        positive = (F.normalize(queries, dim=-1) * F.normalize(all_references[own], dim=-1)).sum(-1) / temperature
        logits, target = torch.cat([positive[:, None], fine_tuned], dim=1), torch.zeros_like(own)
    return F.cross_entropy(logits, target, reduction=reduction)


def pseudo_label_consistency(
    strong_logits: Tensor,
    weak_logits: Tensor,
    *,
    threshold: float,
    sharpening: float | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Confidence-thresholded consistency of a classifier on unlabelled rows (FixMatch, Sohn et al. 2020, eq. 4;
    UDA, Xie et al. 2020, with its confidence masking and sharpening): the prediction on the weak view, without
    gradient, is the target of the strong view, for the rows whose weak-view confidence `max softmax >= threshold`;
    the other rows count as 0 in the mean (the mean is over every row, as both papers').

    - `sharpening=None` (FixMatch): hard pseudo-labels, `-log softmax(strong)[argmax weak]`;
    - `sharpening=T` (UDA): soft targets `softmax(weak / T)`, `-sum_c target_c log softmax(strong)_c`.

    Args:
        strong_logits (`Tensor` of shape `(U, C)`): the logits that are trained.
        weak_logits (`Tensor` of shape `(U, C)`): the logits that make the targets (detached here).
        threshold (`float`): the confidence from which a row's target counts, in [0, 1].
        sharpening (`float`, *optional*): UDA's softmax temperature of the soft targets; `None` for hard labels.
        reduction (`str`, *optional*, defaults to `"mean"`): `"mean"` or `"sum"` over the `U` rows.

    >>> weak = torch.tensor([[4.0, 0.0], [0.1, 0.0]])  # confident on row 0 only
    >>> round(pseudo_label_consistency(torch.zeros(2, 2), weak, threshold=0.95).item(), 4)  # log(2) / 2
    0.3466
    """
    if strong_logits.size(0) == 0:
        return strong_logits.sum() * 0.0
    with torch.autocast(strong_logits.device.type, enabled=False):
        weak = weak_logits.detach().float()
        log_probabilities = F.log_softmax(strong_logits.float(), dim=-1)
        if sharpening is None:
            terms = -log_probabilities.gather(1, weak.argmax(dim=-1, keepdim=True)).squeeze(1)
        else:
            terms = -((weak / sharpening).softmax(dim=-1) * log_probabilities).sum(dim=-1)
        terms = terms * confident_rows(weak, threshold)
    return terms.mean() if reduction == "mean" else terms.sum()


def confident_rows(weak_logits: Tensor, threshold: float) -> Tensor:
    """The rows whose weak-view confidence, `max softmax`, reaches `threshold` (those `pseudo_label_consistency`
    trains on).

    >>> confident_rows(torch.tensor([[4.0, 0.0], [0.1, 0.0]]), 0.95)
    tensor([ True, False])
    """
    with torch.autocast(weak_logits.device.type, enabled=False):
        return weak_logits.detach().float().softmax(dim=-1).amax(dim=-1) >= threshold
