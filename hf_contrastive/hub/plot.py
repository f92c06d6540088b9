"""The model card's training-curve PNG, drawn with matplotlib (the `plot` extra) from the points in `CardData.curve`.

Two panels side by side against the optimizer step: the losses (training loss, and `eval_loss` when logged) and the
evaluation scores (e.g. the STS dev Spearman correlation, an SFT accuracy). Sized for the Hub's card width
(800 x 350 px) and written without a timestamp or software tag, so the same points give the same bytes.
Without matplotlib there is no plot (`curve_png` returns `None`, logged) and the card says the numbers only.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import MissingExtraError

logger = logging.getLogger(__name__)

SIZE_INCHES = (8.0, 3.5)
DPI = 100  # 800 x 350 px: the width of a model card on the Hub
LABELS = {"loss": "training loss", "eval_loss": "evaluation loss"}


def is_loss(name: str) -> bool:
    """Whether a series of `CardData.curve["points"]` goes on the loss panel (the others are scores)."""
    return name == "loss" or name.endswith("loss")


def series_label(name: str) -> str:
    """`eval_sts-dev_spearman_cosine` -> `sts-dev spearman_cosine` (the legend's name of a series)."""
    return LABELS.get(name) or name.removeprefix("eval_").replace("_", " ", 1)


def curve_figure(points: Mapping[str, Sequence[Sequence[float]]], title: str) -> Any:
    """A matplotlib `Figure` (no pyplot state) of `points` (series name -> `(step, value)` pairs): the losses in the
    first panel, the evaluation scores in the second (one panel when only one kind was logged), a legend in each.
    Raises `ValueError` when there is nothing to draw."""
    from matplotlib.figure import Figure

    panels = [(kind, {name: series for name, series in points.items() if series and is_loss(name) == (kind == "loss")})
              for kind in ("loss", "score")]
    panels = [(kind, series) for kind, series in panels if series]
    if not panels:
        raise ValueError("A training curve needs at least one logged value.")
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    figure.suptitle(title, fontsize=11)
    for axes, (kind, series) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels):
        for name, values in series.items():
            steps, ys = zip(*values)
            axes.plot(steps, ys, label=series_label(name), linewidth=1.6,
                      marker="o" if name.startswith("eval_") else None, markersize=3.5)
        axes.set_xlabel("optimizer step")
        axes.set_ylabel("loss (nats)" if kind == "loss" else "score (correlation or fraction)")
        axes.set_title("Loss" if kind == "loss" else "Evaluation during training", fontsize=10)
        axes.grid(True, color="#e1e4e8", linewidth=0.8)
        axes.legend(fontsize=8, frameon=False)
    return figure


def curve_png(points: Mapping[str, Sequence[Sequence[float]]], title: str) -> bytes | None:
    """`curve_figure` as PNG bytes (the same bytes for the same points), or `None` when matplotlib is not installed
    (the `plot` extra)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:
        logger.info("%s", MissingExtraError("The model card's training-curve plot", "matplotlib"))
        return None
    figure = curve_figure(points, title)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
