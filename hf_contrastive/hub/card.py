"""The model card: a pure render of `CardData` through the package's Jinja template, and the files that go with it.

`render_card` returns the README text (YAML metadata written by huggingface_hub's `ModelCardData`, so the
model-index parses with the Hub's own parser); `eval_results_files` gives the Hub's `.eval_results/*.yaml`;
`write_card` puts the card, the training-curve PNG, the eval-results files and `card_data.json` (to re-render the
card for a later release) into a folder. A template error raises: a release never goes out without its card.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from importlib import resources
from typing import Any

import yaml

from .card_data import CardData
from .plot import curve_png

TEMPLATE = "model_card.md.j2"
CARD_DATA_FILE = "card_data.json"
EVAL_RESULTS_FOLDER = ".eval_results"


def _average(values: list[float]) -> float | None:
    return sum(values) / len(values) if len(values) > 1 else None


def render_card(card: CardData) -> str:
    """The README.md of a model: YAML metadata (library, pipeline tag, base model, datasets, tags, license,
    model-index) and a body with only the sections that have data."""
    import jinja2
    from huggingface_hub import ModelCardData

    metadata = ModelCardData(
        library_name="sentence-transformers", pipeline_tag="sentence-similarity", base_model=card.base_model,
        datasets=card.datasets or None, tags=list(dict.fromkeys(card.tags)) or None, license=card.license,
        language=card.language or None, model_name=card.model_name, eval_results=card.eval_results or None,
    )
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                     keep_trailing_newline=True, autoescape=False)
    source = resources.files("hf_contrastive.model_cards").joinpath(TEMPLATE).read_text(encoding="utf-8")
    values = [r.metric_value for r in card.eval_results]
    with_base = [r for r in card.eval_results if r.dataset_name in card.base_scores]
    one_split = len({r.dataset_split for r in card.eval_results}) == 1  # an average of dev and test means nothing
    body = environment.from_string(source).render(
        card=card, has_base=bool(with_base), average=_average(values) if one_split else None,
        base_average=_average([card.base_scores[r.dataset_name] for r in with_base])
        if one_split and len(with_base) == len(card.eval_results) else None,
    )
    body = re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"
    return f"---\n{metadata.to_yaml()}\n---\n\n{body}"


def eval_results_files(card: CardData) -> dict[str, str]:
    """`.eval_results/<dataset>.yaml` per result on a Hub dataset, in the Hub's evaluation-results format."""
    files = {}
    for result in card.eval_results:
        entry: dict[str, Any] = {"dataset": {"id": result.dataset_type, "task_id": result.dataset_config or "default"}}
        if result.dataset_revision:
            entry["dataset"]["revision"] = result.dataset_revision
        entry["value"] = round(float(result.metric_value), 4)
        entry["notes"] = (f"{result.metric_name or result.metric_type}, {result.dataset_split or 'test'} split, "
                          "evaluated by hf_contrastive")
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", result.dataset_name or result.dataset_type)
        files[f"{EVAL_RESULTS_FOLDER}/{name}.yaml"] = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True)
    return files


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
    """README.md, the training curve (drawn from `card.curve`'s points), `.eval_results/` and `card_data.json` (from
    which the card can be written again, e.g. for a release) in `folder`."""
    readme = render_card(card)  # before writing anything: a template error leaves the folder as it was
    if card.curve and any(card.curve.get("points") or ()):
        with open(os.path.join(folder, card.curve["file"]), "wb") as file:
            file.write(curve_png(card.curve["points"]))
    for path, text in eval_results_files(card).items():
        os.makedirs(os.path.join(folder, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(folder, path), "w", encoding="utf-8") as file:
            file.write(text)
    with open(os.path.join(folder, CARD_DATA_FILE), "w", encoding="utf-8") as file:
        file.write(card_to_json(card))
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as file:
        file.write(readme)
