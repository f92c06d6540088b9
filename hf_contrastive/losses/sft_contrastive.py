"""Supervised fine-tuning + contrastive anchoring to the frozen pretrained model, as a sentence-transformers loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.losses.merged_forward import embed_columns

from ..distributed import CrossProcess, unwrap
from ..modeling.classifier import ClassificationHead
from ..modeling.reference import FrozenReference, ReferenceMode
from .base import ContrastiveLoss
from .cache import CachedLossWithParameters
from .consistency import CITATIONS as CONSISTENCY_CITATIONS, ConsistencySettings, ConsistencyTerm, consistency_ramp
from .functional import Negatives, confident_rows, pseudo_label_consistency, reference_info_nce
from ..settings import GatherGradients, GatherSettings, GradCacheSettings, check_choice, check_temperature
from .simcse import SimCSESettings
from .supcon import SUPCON_CITATION, SupConSettings, gathered_supcon

ContrastiveTerm = Literal["info_nce", "supcon"]
ContrastiveRows = Literal["all", "unlabelled"]
DEFAULT_TEMPERATURES = {"info_nce": SimCSESettings.temperature, "supcon": SupConSettings.temperature}

INFO_NCE_CITATION = """@article{oord2018representation,
    title = {Representation Learning with Contrastive Predictive Coding},
    author = {van den Oord, Aaron and Li, Yazhe and Vinyals, Oriol},
    journal = {arXiv preprint arXiv:1807.03748},
    year = {2018},
    url = {https://arxiv.org/abs/1807.03748}
}"""


def instance_labels(labels: Tensor) -> Tensor:
    """SupCon classes for a batch with unlabelled rows (`-1`): labelled rows keep their class, each unlabelled row
    becomes a class of its own (above every real label), so its only positive is its own other view.

    >>> instance_labels(torch.tensor([1, -1, 0, -1]))
    tensor([1, 2, 0, 3])
    """
    unlabelled = labels < 0
    first_free = int(labels.max().clamp(min=-1)) + 1 if labels.numel() else 0
    return labels.masked_scatter(unlabelled, first_free + torch.arange(int(unlabelled.sum()), device=labels.device))


@dataclass
class SFTContrastiveSettings(GatherSettings, GradCacheSettings, ConsistencySettings):
    """
    SFT+contrastive's hyperparameters (`SFTContrastiveLoss` arguments and `SFTContrastiveConfig` fields; the
    consistency term's, `consistency` ..., are documented in `ConsistencySettings`):

    contrastive_weight (`float`, *optional*, defaults to `1.0`):
        λ, the weight of the contrastive term (>= 0); 0 is plain cross-entropy fine-tuning (no reference model).
    contrastive (`str`, *optional*, defaults to `"info_nce"`):
        `info_nce` (InfoNCE: each fine-tuned embedding q_i against the frozen reference embedding p_i of the same
        text, its positive, and the negatives of `negatives`) or `supcon` (SupCon over the two views
        `[fine-tuned; reference]`: a row's positives are its own reference embedding and every view of the rows with
        its label, every other view a negative; an unlabelled row is a class of its own; one text column only).
        SupCon's `contrast_mode` and `anchors_without_positive` are not options here: both views are anchors, and
        every anchor has a positive (its other view), so the reference's mean and ours agree.
    negatives (`str`, *optional*, defaults to `"fine_tuned"`):
        InfoNCE's negatives of q_i (the positive p_i is always in the denominator): `fine_tuned` (the other rows'
        fine-tuned embeddings q_j, the method's definition: it also spreads the fine-tuned embeddings apart),
        `reference` (the other rows' frozen embeddings p_j: it anchors q_i to the frozen geometry) or `both`
        (q_j and p_j). Under DDP the other processes' rows are negatives too (q_j with their gradients). SupCon's
        candidates are always both views; this applies to `info_nce`.
    temperature (`float`, *optional*):
        Softmax temperature; `None` is SimCSE's 0.05 for `info_nce` and SupCon's 0.07 for `supcon`.
    base_temperature (`float`, *optional*, defaults to `0.07`):
        SupCon's loss scaling `temperature / base_temperature`.
    reference (`str`, *optional*, defaults to `"auto"`):
        The frozen pretrained model: `adapters` (the model with its LoRA adapters disabled, no second copy), `copy`
        (a frozen copy, for full fine-tuning) or `auto` (`adapters` under LoRA, else `copy`).
    classifier_dropout (`float`, *optional*, defaults to `0.1`):
        Dropout on the classification head's input in training.
    """

    contrastive_weight: float = field(default=1.0, metadata={"help": "λ: weight of the contrastive term."})
    contrastive: ContrastiveTerm = field(default="info_nce", metadata={"help": "The contrastive term."})
    negatives: Negatives = field(default="fine_tuned", metadata={"help": "InfoNCE's negatives of q_i."})
    temperature: float | None = field(
        default=None, metadata={"help": "Softmax temperature; None: 0.05 for info_nce, 0.07 for supcon."}
    )
    base_temperature: float = field(
        default=SupConSettings.base_temperature, metadata={"help": "SupCon's scaling: temperature / this."}
    )
    reference: ReferenceMode = field(default="auto", metadata={"help": "How the frozen pretrained model is kept."})
    classifier_dropout: float = field(default=0.1, metadata={"help": "Dropout on the classification head's input."})

    def check_fields(self) -> None:
        if not self.contrastive_weight >= 0:
            raise ValueError(f"`contrastive_weight` (λ) must be >= 0, got {self.contrastive_weight}.")
        check_temperature(self.resolved_temperature)
        check_temperature(self.base_temperature, "base_temperature")
        if not 0 <= self.classifier_dropout < 1:
            raise ValueError(f"`classifier_dropout` must be in [0, 1), got {self.classifier_dropout}.")

    @property
    def resolved_temperature(self) -> float:
        """`temperature`, with `None` resolved per contrastive term."""
        return DEFAULT_TEMPERATURES[self.contrastive] if self.temperature is None else self.temperature


class SFTContrastiveLoss(CachedLossWithParameters, ContrastiveLoss):
    """
    `L = CE(head(embedding), label) + contrastive_weight * L_contrastive`: a classification head trained with
    cross-entropy on the labelled rows, plus a contrastive term that keeps each fine-tuned embedding (query) q_i close
    to the *frozen pretrained* embedding p_i of the same text (its positive), the other texts of the batch being
    negatives (their fine-tuned embeddings, their frozen ones or both: `negatives`):
    `L_contrastive = -mean_i log exp(cos(q_i, p_i) / t) / sum_{n in N(i)} exp(cos(q_i, n) / t)`, `N(i)` holding p_i.
    The fine-tuned model learns the task without forgetting its general-purpose embedding space, from few labelled
    rows and many unlabelled ones (label `-1`: the contrastive term only).

    Args:
        model (`SentenceTransformer`): the model to fine-tune.
        num_labels (`int`): number of classes.
        contrastive_weight, contrastive, negatives, temperature, base_temperature, reference, classifier_dropout:
            see `SFTContrastiveSettings`.
        contrastive_rows (`str`, *optional*, defaults to `"all"`): the rows the contrastive term sees: `all` (the
            "mixing" strategy) or `unlabelled` (the "alternating" strategy: labelled batches train the head only,
            unlabelled batches the contrastive term only).
        num_inputs (`int`, *optional*, defaults to `1`): text columns per example, 1 or 2 (a pair is classified from
            `(u, v, |u - v|)` as SBERT's NLI classifier).
        id2label (`dict[int, str]`, *optional*): class names, saved with the head.
        gather_across_devices, gather_gradients: under DDP, the contrastive term's candidates are the rows of every
            process (InfoNCE: their embeddings of `negatives`; SupCon: both views and the labels) and both terms are
            means over every process's rows, see `GatherSettings` (`gather_gradients="local"` applies to the
            contrastive term; the cross-entropy gathers nothing and stays exact).
        mini_batch_size: gradient caching of the fine-tuned embeddings (the loss is then returned as one total,
            its components not logged), see `GradCacheSettings`.
        consistency, consistency_weight, consistency_threshold, consistency_sharpening, consistency_warmup_steps:
            the unlabelled rows' consistency term (FixMatch / UDA; off by default), see `ConsistencySettings`.

    Requirements:
        1. A `label` column of class ids in `[0, num_labels)`; `-1` marks an unlabelled row (contrastive term and,
           when on, consistency term only).
        2. With `reference="adapters"`, a model with LoRA adapters.
        3. With `consistency_warmup_steps > 0` outside `SFTContrastiveTrainer` (which does it), `loss.set_step(step)`
           before each optimizer step.

    Inputs:
        +-------------------------------+------------------------------+
        | Texts                         | Labels                       |
        +===============================+==============================+
        | (text,) or (text_1, text_2)   | class ids, -1 for unlabelled |
        +-------------------------------+------------------------------+

    Returns:
        `{"sft": ..., "contrastive": contrastive_weight * ...}`, and `"consistency": consistency_weight * ramp * ...`
        when the term is on (each component is logged; a term with no rows to apply to is 0).

    Example:
        >>> loss = SFTContrastiveLoss(model, num_labels=3, contrastive_weight=1.0)
        >>> trainer = SentenceTransformerTrainer(model=model, loss=loss,
        ...                                      train_dataset=Dataset.from_dict({"text": texts, "label": labels}))
    """

    settings_class = SFTContrastiveSettings

    def __init__(
        self,
        model: SentenceTransformer,
        num_labels: int,
        *,
        contrastive_weight: float = SFTContrastiveSettings.contrastive_weight,
        contrastive: ContrastiveTerm = SFTContrastiveSettings.contrastive,
        negatives: Negatives = SFTContrastiveSettings.negatives,
        temperature: float | None = SFTContrastiveSettings.temperature,
        base_temperature: float = SFTContrastiveSettings.base_temperature,
        contrastive_rows: ContrastiveRows = "all",
        reference: ReferenceMode = SFTContrastiveSettings.reference,
        num_inputs: int = 1,
        classifier_dropout: float = SFTContrastiveSettings.classifier_dropout,
        id2label: dict[int, str] | None = None,
        gather_across_devices: bool = SFTContrastiveSettings.gather_across_devices,
        gather_gradients: GatherGradients = SFTContrastiveSettings.gather_gradients,
        mini_batch_size: int | None = SFTContrastiveSettings.mini_batch_size,
        consistency: ConsistencyTerm = SFTContrastiveSettings.consistency,
        consistency_weight: float = SFTContrastiveSettings.consistency_weight,
        consistency_threshold: float | None = SFTContrastiveSettings.consistency_threshold,
        consistency_sharpening: float = SFTContrastiveSettings.consistency_sharpening,
        consistency_warmup_steps: int = SFTContrastiveSettings.consistency_warmup_steps,
    ) -> None:
        # `reference` becomes the frozen model below, `temperature` the resolved one
        super().__init__(
            model, contrastive_weight=contrastive_weight, contrastive=contrastive, negatives=negatives,
            temperature=temperature, base_temperature=base_temperature, reference=reference,
            classifier_dropout=classifier_dropout, gather_across_devices=gather_across_devices,
            gather_gradients=gather_gradients, mini_batch_size=mini_batch_size, consistency=consistency,
            consistency_weight=consistency_weight, consistency_threshold=consistency_threshold,
            consistency_sharpening=consistency_sharpening, consistency_warmup_steps=consistency_warmup_steps)
        check_choice(contrastive_rows, ContrastiveRows, "contrastive_rows")
        if contrastive == "supcon" and num_inputs != 1:
            raise ValueError("`contrastive='supcon'` needs class labels of single texts; the data has "
                             f"{num_inputs} text columns per example (a pair). Use `contrastive='info_nce'`.")
        self.temperature = self.settings.resolved_temperature
        self.consistency_threshold = self.settings.resolved_consistency_threshold
        self.step: int | None = None  # the optimizer step, for the consistency warm-up (`set_step`)
        self.pseudo_label_counts = [0, 0]  # training rows with a pseudo-label, unlabelled training rows (`pop_...`)
        self.contrastive_rows = contrastive_rows
        self.head = ClassificationHead(model.get_embedding_dimension(), num_labels, num_inputs, classifier_dropout,
                                       id2label)
        # λ = 0 is plain cross-entropy fine-tuning: no reference model, no contrastive forward.
        self.reference = FrozenReference(model, reference) if contrastive_weight > 0 else None

    def forward(self, sentence_features: list[dict[str, Any]], labels: Tensor | None = None) -> dict[str, Tensor]:
        if self.mini_batch_size is not None:
            return self.forward_cached_terms(list(sentence_features), labels)
        return self.terms_and_logits(sentence_features, labels)[0]

    def terms_and_logits(self, sentence_features: list[dict[str, Any]],
                         labels: Tensor | None) -> tuple[dict[str, Tensor], Tensor | None]:
        """The loss terms and the head's logits (`None` for a batch of a different column count than the head's,
        such as single unlabelled texts beside a pair task)."""
        features = list(sentence_features)
        inputs = [dict(f) for f in features]  # before the forward writes its outputs into `features`
        embeddings = embed_columns(self.model, features)  # a pair's columns: one forward each (lengths differ)
        return self.terms_from_embeddings(embeddings, labels, lambda: self.reference(unwrap(self.model), features),
                                          lambda rows: self.weak_view_logits(inputs, rows))

    def terms_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None,
                              references: Callable[[], list[Tensor]],
                              weak_logits: Callable[[Tensor], Tensor] | None = None
                              ) -> tuple[dict[str, Tensor], Tensor | None]:
        """The terms from the fine-tuned embeddings (one tensor per column); `references()` gives the reference
        embeddings of the same texts, called only when the contrastive term has rows; `weak_logits(rows)` the
        consistency term's weak-view logits of the rows of a mask, called only when the term is on and has rows."""
        size, device = embeddings[0].size(0), embeddings[0].device
        labels = self.row_labels(labels, size, device)
        labelled = labels >= 0
        zero = sum(e.sum() for e in embeddings) * 0.0  # every column in the graph (GradCache needs a gradient each)
        logits = self.head(embeddings) if len(embeddings) == self.head.num_inputs else None
        if labelled.any() and logits is None:
            raise ValueError(f"A labelled batch has {len(embeddings)} text column(s); the head classifies "
                             f"{self.head.num_inputs}.")
        processes = CrossProcess(self.gather_across_devices)  # the cross-entropy gathers nothing: exact in both modes
        # the mean over every (gathered) process's labelled rows, as one process on the whole batch
        total = F.cross_entropy(logits[labelled], labels[labelled], reduction="sum") if labelled.any() else zero
        sft = processes.mean(total, processes.count(int(labelled.sum()), device))
        rows = self.contrastive_row_mask(labels)
        if self.reference is not None and rows.any():
            contrastive = self.contrastive_loss(embeddings, references(), labels, rows)
        elif self.reference is not None and processes.active:  # no rows here: still take part in the gathers
            contrastive = self.contrastive_loss(embeddings, embeddings, labels, rows) + zero
        else:
            contrastive = zero
        terms = {"sft": sft, "contrastive": self.contrastive_weight * contrastive}
        if self.consistency != "none":
            terms["consistency"] = self.consistency_term(logits, labels, weak_logits, zero)
        return terms, logits

    def consistency_term(self, logits: Tensor | None, labels: Tensor, weak_logits: Callable[[Tensor], Tensor] | None,
                         zero: Tensor) -> Tensor:
        """λ_u x ramp x the mean over every (gathered) process's unlabelled rows of `pseudo_label_consistency`
        between the training forward's logits (strong view) and `weak_logits`' (weak view)."""
        unlabelled = labels < 0
        processes = CrossProcess(self.gather_across_devices)
        count = processes.count(int(unlabelled.sum()), labels.device)
        if unlabelled.any():
            if logits is None:
                raise ValueError(f"`consistency={self.consistency!r}` classifies the unlabelled rows, but they have a "
                                 f"different number of text columns than the head's {self.head.num_inputs}: give "
                                 "the unlabelled rows the training set's text columns, or `consistency='none'`.")
            weak = weak_logits(unlabelled)
            if unwrap(self.model).training:
                self.count_pseudo_labels(weak)
            total = pseudo_label_consistency(logits[unlabelled], weak, threshold=self.consistency_threshold,
                                             sharpening=self.consistency_sharpening if self.consistency == "uda"
                                             else None, reduction="sum")
        else:  # no unlabelled row here
            total = zero
        return self.consistency_weight * self.consistency_scale() * processes.mean(total, count)

    def count_pseudo_labels(self, weak: Tensor) -> None:
        """Tally the unlabelled training rows and those confident enough for a pseudo-label (one device sync)."""
        self.pseudo_label_counts[0] += int(confident_rows(weak, self.consistency_threshold).sum())
        self.pseudo_label_counts[1] += weak.size(0)

    def pop_pseudo_label_share(self) -> float | None:
        """The share of this process's unlabelled training rows that had a pseudo-label since the last call (FixMatch's
        mask rate, USB's `util_ratio`; `None` when there were none), and the tally reset."""
        confident, rows = self.pseudo_label_counts
        self.pseudo_label_counts = [0, 0]
        return confident / rows if rows else None

    def set_step(self, step: int) -> None:
        """The optimizer step training is at, for the consistency term's warm-up (`SFTContrastiveTrainer` sets it
        before every step; a resumed run from the checkpoint's step)."""
        self.step = step

    def consistency_scale(self) -> float:
        """The warm-up's share of `consistency_weight` now (`consistency_ramp`)."""
        if self.consistency_warmup_steps and self.step is None:
            raise ValueError(f"`consistency_warmup_steps={self.consistency_warmup_steps}` ramps the consistency weight "
                             "over the optimizer steps, but the loss was not told the step: call "
                             "`loss.set_step(state.global_step)` before each step (SFTContrastiveTrainer does), or "
                             "set `consistency_warmup_steps=0`.")
        return consistency_ramp(self.step or 0, self.consistency_warmup_steps)

    def weak_view_logits(self, inputs: list[dict[str, Any]], rows: Tensor) -> Tensor:
        """The consistency term's weak view: the head's logits of a second, gradient-free forward of the `rows`
        (a mask) of `inputs` (the tokenized columns), with the model and head in their current mode: in training, new
        dropout masks, the second dropout view (in evaluation, without dropout, both views are the same)."""
        size = rows.numel()
        chosen = [{key: value[rows] if isinstance(value, Tensor) and value.dim() > 0 and value.size(0) == size
                   else value for key, value in column.items()} for column in inputs]
        with torch.no_grad():
            return self.head(embed_columns(unwrap(self.model), chosen))

    def row_labels(self, labels: Tensor | None, size: int, device: Any) -> Tensor:
        """Labels as a long vector (`-1` everywhere when none are given), checked against the head's classes."""
        labels = torch.full((size,), -1, device=device) if labels is None else labels.to(device).long().view(-1)
        out_of_range = (labels < -1) | (labels >= self.head.num_labels)
        if out_of_range.any():
            raise ValueError(f"Label {int(labels[out_of_range][0])} is out of range for {self.head.num_labels} classes "
                             f"(0..{self.head.num_labels - 1}, -1 for unlabelled).")
        return labels

    def contrastive_row_mask(self, labels: Tensor) -> Tensor:
        return torch.ones_like(labels, dtype=torch.bool) if self.contrastive_rows == "all" else labels < 0

    def forward_cached_terms(self, features: list[dict[str, Any]], labels: Tensor | None) -> Tensor:
        """GradCache: the reference embeddings first (no graph), then sentence-transformers' cached forward; the
        total loss is returned (its components are not logged separately in this mode)."""
        size = next(features[0][key] for key in ("input_ids", "attention_mask", *features[0])
                    if isinstance(features[0].get(key), Tensor)).size(0)
        labels = self.row_labels(labels, size, next(self.head.parameters()).device)
        references = weak = None
        if self.reference is not None and self.contrastive_row_mask(labels).any():
            references = self.reference(unwrap(self.model), features)
        if self.consistency != "none" and (labels < 0).any():
            weak = self.weak_view_logits([dict(f) for f in features], labels < 0)
        return self.forward_with_cache(features, (labels, references, weak))

    def calculate_loss(self, reps: list[list[Tensor]], labels: Any = None, *, with_backward: bool = False) -> Tensor:
        """GradCache step (2): the terms from the per-mini-batch embeddings; `labels` is `(labels, references,
        weak-view logits)`, computed before the cached forward."""
        labels, references, weak = labels
        terms, _ = self.terms_from_embeddings([torch.cat(column) for column in reps], labels, lambda: references,
                                              lambda rows: weak)
        loss = sum(terms.values())
        return self.cache_step_two(loss, reps, with_backward)

    def contrastive_loss(self, embeddings: list[Tensor], references: list[Tensor], labels: Tensor,
                         rows: Tensor) -> Tensor:
        """The contrastive term over `rows`: fine-tuned embeddings against the reference embeddings of the same texts
        (every column's texts are rows of their own)."""
        queries = torch.cat([e[rows] for e in embeddings])
        # The references are frozen: detached, they are gathered without a backward collective on every process
        # (a process without rows passes its own embeddings as stand-ins, which would otherwise carry gradients).
        positives = torch.cat([r[rows] for r in references]).to(queries.dtype).detach()
        processes = CrossProcess.of(self)
        if self.contrastive == "info_nce":
            all_references, offset = processes.gather(positives)
            # the fine-tuned candidates carry gradients back to the process whose rows they are
            all_queries = None if self.negatives == "reference" else processes.gather(queries)[0]
            rows, offset = processes.queries(queries, offset, all_queries)  # every process's with local gradients
            total = reference_info_nce(rows, all_references, negatives=self.negatives, temperature=self.temperature,
                                       all_queries=all_queries, all_references=all_references, offset=offset,
                                       reduction="sum")
            return processes.mean(total, all_references.size(0))
        # unlabelled rows numbered over every process's labels, so that they stay unique
        return gathered_supcon([queries, positives], labels[rows], processes, classes=instance_labels,
                               temperature=self.temperature, base_temperature=self.base_temperature)

    def get_config_dict(self) -> dict[str, Any]:
        config = {"num_labels": self.head.num_labels, **super().get_config_dict(),
                  "reference": None if self.reference is None else self.reference.mode,
                  "contrastive_rows": self.contrastive_rows, "num_inputs": self.head.num_inputs}
        del config["base_temperature" if self.contrastive != "supcon" else "negatives"]
        if self.consistency == "none":  # off: the card shows the source method's settings only
            config = {k: v for k, v in config.items() if not k.startswith("consistency")}
        elif self.consistency != "uda":
            del config["consistency_sharpening"]
        return config

    @property
    def citation(self) -> str:
        contrastive = SUPCON_CITATION if self.contrastive == "supcon" else INFO_NCE_CITATION
        return "\n\n".join([contrastive, *([CONSISTENCY_CITATIONS[self.consistency]] if self.consistency != "none"
                                              else [])])
