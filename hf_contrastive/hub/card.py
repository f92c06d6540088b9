"""The model card: a pure render of `CardData` through the package's Jinja template, and the files that go with it.

`render_card` returns the README text (YAML metadata written by huggingface_hub's `ModelCardData`, so the
model-index parses with the Hub's own parser); `eval_results_files` gives the Hub's `.eval_results/*.yaml`;
`write_card` puts the card, the training-curve PNG (with matplotlib), the eval-results files and `card_data.json` (to
re-render the card for a later release) into a folder. A template error raises: a release never goes out without its
card. The template is the repository's `model_cards/model_card.md.j2`, installed as `hf_contrastive.model_cards`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .card_data import CardData, result_key
from .plot import curve_png

TEMPLATE = "model_card.md.j2"
CARD_DATA_FILE = "card_data.json"
EVAL_RESULTS_FOLDER = ".eval_results"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def is_hub_dataset(dataset_id: str | None) -> bool:
    """Whether a model-index `dataset.type` names a Hub dataset (`org/name`) rather than a local-only one."""
    return bool(dataset_id) and dataset_id.count("/") == 1


def evaluation_rows(card: CardData) -> tuple[list[tuple[Any, float | None]], list[dict[str, Any]]]:
    """The evaluation table: each result with the base model's value (or `None`), and the averages — one per group
    of at least two results that share task type, metric and split (an average of dev and test, or of accuracy and
    Spearman, means nothing), with the base model's average when it has every value of the group."""
    rows = [(result, card.base_scores.get(result_key(result))) for result in card.eval_results]
    groups: dict[tuple, list] = {}
    for result, base in rows:
        groups.setdefault((result.task_type, result.metric_type, result.dataset_split), []).append((result, base))
    averaged = [group for group in groups.values() if len(group) > 1]
    averages = [{"label": "Average" if len(groups) == 1 else f"Average ({group[0][0].metric_type})",
                 "value": _mean([result.metric_value for result, _ in group]),
                 "base": _mean([base for _, base in group]) if all(base is not None for _, base in group) else None}
                for group in averaged]
    return rows, averages


def template_source(name: str = TEMPLATE) -> str:
    """A model-card template: from the source checkout's `model_cards/` when this package runs from one (on
    `sys.path` or installed editable), else from the installed package data `hf_contrastive.model_cards`."""
    checkout = Path(__file__).resolve().parents[2] / "model_cards" / name
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    return resources.files("hf_contrastive.model_cards").joinpath(name).read_text(encoding="utf-8")


def curve_title(card: CardData) -> str:
    return f"{card.method} fine-tuning of {card.base_model}" if card.base_model else f"{card.method} training"


def render_card(card: CardData, curve_image: str | None = None) -> str:
    """The README.md of a model: YAML metadata (library, pipeline tag, base model, datasets, tags, license,
    model-index) and a body with only the sections that have data; `curve_image`, the training curve's file beside
    the card (when drawn), is shown above the curve's numbers."""
    import jinja2
    from huggingface_hub import ModelCardData

    metadata = ModelCardData(
        library_name="sentence-transformers", pipeline_tag="sentence-similarity", base_model=card.base_model,
        datasets=card.datasets or None, tags=list(dict.fromkeys(card.tags)) or None, license=card.license,
        language=card.language or None, model_name=card.model_name, eval_results=card.eval_results or None,
    )
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                     keep_trailing_newline=True, autoescape=False)
    environment.tests["hub_dataset"] = is_hub_dataset
    rows, averages = evaluation_rows(card)
    body = environment.from_string(template_source()).render(
        card=card, rows=rows, averages=averages, has_base=any(base is not None for _, base in rows),
        curve_image=curve_image)
    body = re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"
    return f"---\n{metadata.to_yaml()}\n---\n\n{body}"


def eval_results_files(card: CardData) -> dict[str, str]:
    """`.eval_results/<dataset>.yaml` per Hub dataset (its results: splits, metrics), as huggingface_hub's
    `EvalResultEntry`s (the Hub's evaluation-results format); results on local-only datasets stay in the model-index
    only."""
    from huggingface_hub import EvalResultEntry, eval_result_entries_to_yaml

    entries: dict[str, list] = {}
    for result in card.eval_results:
        if not is_hub_dataset(result.dataset_type):
            continue
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", result.dataset_name or result.dataset_type)
        entries.setdefault(f"{EVAL_RESULTS_FOLDER}/{name}.yaml", []).append(EvalResultEntry(
            dataset_id=result.dataset_type, task_id=result.dataset_config or "default",
            value=round(float(result.metric_value), 4), dataset_revision=result.dataset_revision or None,
            notes=f"{result.metric_name or result.metric_type}, {result.dataset_split or 'test'} split, "
                  "evaluated by hf_contrastive"))
    return {path: yaml.safe_dump(eval_result_entries_to_yaml(listed), sort_keys=False, allow_unicode=True)
            for path, listed in entries.items()}


def card_to_json(card: CardData) -> str:
    return json.dumps(dataclasses.asdict(card), indent=1, default=str)


def card_from_json(text: str) -> CardData:
    from huggingface_hub import EvalResult

    data = json.loads(text)
    data["eval_results"] = [EvalResult(**result) for result in data.get("eval_results", [])]
    data["classifier"] = {int(k): v for k, v in data["classifier"].items()} if data.get("classifier") else None
    fields = {f.name for f in dataclasses.fields(CardData)}
    return CardData(**{k: v for k, v in data.items() if k in fields})


def write_card(folder: str, card: CardData) -> None:
    """README.md, the training curve (drawn from `card.curve`'s points when matplotlib is installed), `.eval_results/`
    and `card_data.json` (from which the card can be written again, e.g. for a release) in `folder`."""
    image = curve_png(card.curve["points"], curve_title(card)) if card.curve and card.curve.get("points") else None
    # the card before writing anything: a template error leaves the folder as it was
    readme = render_card(card, curve_image=card.curve["file"] if image is not None else None)
    if image is not None:
        with open(os.path.join(folder, card.curve["file"]), "wb") as file:
            file.write(image)
    for path, text in eval_results_files(card).items():
        os.makedirs(os.path.join(folder, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(folder, path), "w", encoding="utf-8") as file:
            file.write(text)
    with open(os.path.join(folder, CARD_DATA_FILE), "w", encoding="utf-8") as file:
        file.write(card_to_json(card))
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as file:
        file.write(readme)
