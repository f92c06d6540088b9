"""SFT+contrastive's unlabelled-data accuracy term: consistency between two dropout views of each unlabelled row, the
confident predictions of one (the weak view, without gradient) training the other (FixMatch / UDA style), its
settings declared once and its warm-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..settings import Settings

ConsistencyTerm = Literal["none", "fixmatch", "uda"]
DEFAULT_THRESHOLDS = {"fixmatch": 0.95, "uda": 0.8}  # FixMatch's τ (its paper, §4); UDA's, as USB runs it

FIXMATCH_CITATION = """@inproceedings{sohn2020fixmatch,
    title = {{FixMatch}: Simplifying Semi-Supervised Learning with Consistency and Confidence},
    author = {Sohn, Kihyuk and Berthelot, David and Li, Chun-Liang and Zhang, Zizhao and Carlini, Nicholas and
              Cubuk, Ekin D. and Kurakin, Alex and Zhang, Han and Raffel, Colin},
    booktitle = {Advances in Neural Information Processing Systems},
    year = {2020},
    url = {https://arxiv.org/abs/2001.07685}
}"""
UDA_CITATION = """@inproceedings{xie2020unsupervised,
    title = {Unsupervised Data Augmentation for Consistency Training},
    author = {Xie, Qizhe and Dai, Zihang and Hovy, Eduard and Luong, Minh-Thang and Le, Quoc V.},
    booktitle = {Advances in Neural Information Processing Systems},
    year = {2020},
    url = {https://arxiv.org/abs/1904.12848}
}"""
CITATIONS = {"fixmatch": FIXMATCH_CITATION, "uda": UDA_CITATION}


@dataclass
class ConsistencySettings(Settings):
    """
    The consistency term on unlabelled rows (`SFTContrastiveLoss` arguments and `SFTContrastiveConfig` fields), off
    by default:

    consistency (`str`, *optional*, defaults to `"none"`):
        `none` (off: the method as defined); `fixmatch` (Sohn et al. 2020): each unlabelled row (label
        `-1`) is encoded a second time, without gradient, with its own dropout masks (the *weak* view); where the
        head's softmax on it reaches `consistency_threshold`, its argmax is a pseudo-label that the training forward
        (the *strong* view: its dropout masks, the head's dropout) learns with cross-entropy; `uda` (Xie et al.
        2020): the target is the weak view's distribution sharpened by `consistency_sharpening`, with the same
        masking. Both views go through the model in training mode, as USB (Wang et al. 2022) runs both methods
        on text; dropout is the augmentation here. Logged as `consistency`; the mean is over every unlabelled row.
        Costs one gradient-free forward of the unlabelled rows per step.
    consistency_weight (`float`, *optional*, defaults to `1.0`):
        λ_u, the weight of the term (FixMatch's and USB's 1.0), when `consistency` is not `none`.
    consistency_threshold (`float`, *optional*):
        The weak-view confidence from which a row counts, in [0, 1]; `None` is 0.95 for `fixmatch` (its paper) and
        0.8 for `uda` (USB's).
    consistency_sharpening (`float`, *optional*, defaults to `0.4`):
        `uda`: the softmax temperature of the targets (UDA's and USB's 0.4).
    consistency_warmup_steps (`int`, *optional*, defaults to `0`):
        The weight ramps up linearly from 0 over these optimizer steps (as MixMatch's λ_U; 0: full weight at once),
        while the head is still close to its start; the trainer tells the loss the step (`set_step`).
    """

    consistency: ConsistencyTerm = field(default="none", metadata={"help": "The consistency term on unlabelled rows."})
    consistency_weight: float = field(default=1.0, metadata={"help": "λ_u: weight of the consistency term."})
    consistency_threshold: float | None = field(
        default=None, metadata={"help": "Weak-view confidence a pseudo-label needs; None: 0.95 fixmatch, 0.8 uda."}
    )
    consistency_sharpening: float = field(default=0.4, metadata={"help": "uda: temperature of the soft targets."})
    consistency_warmup_steps: int = field(
        default=0, metadata={"help": "Steps over which the consistency weight ramps up linearly from 0."}
    )

    def check_fields(self) -> None:
        if not self.consistency_weight >= 0:
            raise ValueError(f"`consistency_weight` must be >= 0, got {self.consistency_weight}.")
        if self.consistency_threshold is not None and not 0 <= self.consistency_threshold <= 1:
            raise ValueError(f"`consistency_threshold` must be in [0, 1], got {self.consistency_threshold}.")
        if not self.consistency_sharpening > 0:
            raise ValueError(f"`consistency_sharpening` must be > 0, got {self.consistency_sharpening}.")
        if self.consistency_warmup_steps < 0:
            raise ValueError(f"`consistency_warmup_steps` must be >= 0, got {self.consistency_warmup_steps}.")

    @property
    def resolved_consistency_threshold(self) -> float | None:
        """`consistency_threshold`, with `None` resolved per term (`None` when the term is off)."""
        if self.consistency_threshold is not None or self.consistency == "none":
            return self.consistency_threshold
        return DEFAULT_THRESHOLDS[self.consistency]


def consistency_ramp(step: int, warmup_steps: int) -> float:
    """The share of the consistency weight at optimizer step `step`: linear from 0 to 1 over `warmup_steps`.

    >>> consistency_ramp(0, 4), consistency_ramp(2, 4), consistency_ramp(9, 4), consistency_ramp(0, 0)
    (0.0, 0.5, 1.0, 1.0)
    """
    return 1.0 if warmup_steps == 0 else min(1.0, step / warmup_steps)
