"""The contrastive losses written out pair by pair in plain Python floats: the references the vectorised losses are
tested against."""

from __future__ import annotations

import math

import torch


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.dot(a, b) / (a.norm() * b.norm()))


def naive_info_nce(anchors, positives, negatives=(), temperature=0.05, hard_negative_weight=0.0) -> float:
    """SimCSE's objective written out row by row (models.py `cl_forward`): row i's candidates are every positive and
    every negative of every `negatives` column; its own hard negatives get `hard_negative_weight` added."""
    batch = len(anchors)
    candidates = list(positives) + [n for column in negatives for n in column]
    total = 0.0
    for i in range(batch):
        logits = []
        for j, candidate in enumerate(candidates):
            logit = cos(anchors[i], candidate) / temperature
            if j >= batch and j % batch == i:  # this row's own hard negative, in any negative column
                logit += hard_negative_weight
            logits.append(logit)
        top = max(logits)
        log_sum = top + math.log(sum(math.exp(x - top) for x in logits))
        total += log_sum - logits[i]
    return total / batch


def naive_nt_xent(anchors, positives, temperature) -> float:
    """pytorch-metric-learning's NTXentLoss, labels = (0..N-1, 0..N-1), written out pair by pair."""
    embeddings = list(anchors) + list(positives)
    labels = list(range(len(anchors))) * 2
    losses = []
    for i, anchor in enumerate(embeddings):
        for j, partner in enumerate(embeddings):
            if i == j or labels[i] != labels[j]:
                continue
            positive = math.exp(cos(anchor, partner) / temperature)
            negatives = sum(math.exp(cos(anchor, other) / temperature)
                            for k, other in enumerate(embeddings) if labels[k] != labels[i])
            losses.append(-math.log(positive / (positive + negatives)))
    return sum(losses) / len(losses)


def naive_supcon(embeddings, labels, temperature, base_temperature, anchors_without_positive="exclude") -> float:
    """Khosla et al. eq. 2 anchor by anchor; an anchor without a positive is left out of the mean (`exclude`) or
    counted as 0 (`zero`)."""
    terms = []
    for i in range(len(embeddings)):
        positives = [p for p in range(len(embeddings)) if p != i and labels[p] == labels[i]]
        if not positives:
            terms += [0.0] if anchors_without_positive == "zero" else []
            continue
        denominator = sum(math.exp(cos(embeddings[i], embeddings[a]) / temperature)
                          for a in range(len(embeddings)) if a != i)
        log_probs = [cos(embeddings[i], embeddings[p]) / temperature - math.log(denominator) for p in positives]
        terms.append(-(temperature / base_temperature) * sum(log_probs) / len(positives))
    return sum(terms) / len(terms)


def naive_reference_info_nce(queries, references, negatives, temperature):
    """SFT+contrastive's term row by row: q_i's positive is p_i; its candidates are p_i and the other rows' q_j
    (`fine_tuned`), every p_j (`reference`), or every p_j and the other rows' q_j (`both`)."""
    cos = lambda a, b: float(torch.dot(a, b) / (a.norm() * b.norm()))  # noqa: E731
    total = 0.0
    for i, query in enumerate(queries):
        positive = cos(query, references[i]) / temperature
        candidates = [cos(query, p) / temperature for p in references] if negatives != "fine_tuned" else [positive]
        if negatives != "reference":
            candidates += [cos(query, q) / temperature for j, q in enumerate(queries) if j != i]
        top = max(candidates)
        total += top + math.log(sum(math.exp(c - top) for c in candidates)) - positive
    return total / len(queries)
