"""What a release's model card says about the model, gathered from the trainer and the model."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from ..modeling.lora import lora_config
from ..precision import precision_in_effect


def keep_local_paths_private(model: Any) -> None:
    """Stop sentence-transformers from guessing, at a model's first save, a Hub id for a base model loaded from a
    local folder: it asks the Hub about the folder's last path parts (`/api/models/<parent>/<folder>`), which sends
    your directory names off the machine and names a stranger's repository as `base_model` when one of that name
    exists. A base model loaded from the Hub keeps its real id (set when it was loaded)."""
    card = getattr(model, "model_card_data", None)
    transformer = getattr(model, "transformers_model", None)
    name = getattr(getattr(transformer, "config", None), "_name_or_path", "") or ""
    if card is not None and not card.base_model and name and os.path.exists(name):
        card.first_save = False  # the guess runs only on a first save (SentenceTransformerModelCardData.to_dict)


LIBRARY_CITATION = """@software{hf_contrastive,
    title = {hf_contrastive: contrastive fine-tuning of text-embedding models for the Hugging Face stack},
    year = {2026},
    note = {SimCSE, DeCLUTR and SFT+contrastive as transformers.Trainer subclasses and sentence-transformers losses}
}"""
RUN_METRICS = ("runtime", "samples_per_second", "steps_per_second", "epoch", "step")
PLOTTED_SCORES = ("spearman_cosine", "pearson_cosine", "accuracy", "f1")  # the scores of this library's evaluators


@dataclass
class CardData:
    """Everything a release's model card says; each optional part left empty is left out of the card."""

    model_name: str
    method: str  # e.g. "SimCSE"
    base_model: str | None = None
    model_id: str | None = None
    paper: dict[str, str] = field(default_factory=dict)  # title, id (arXiv)
    objective: dict[str, Any] = field(default_factory=dict)
    architecture: str = ""
    embedding_dimension: int | None = None
    max_seq_length: int | None = None
    similarity: str | None = None
    training_data: list[dict[str, Any]] = field(default_factory=list)  # name, id, config, split, part, rows, columns
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    eval_results: list[Any] = field(default_factory=list)  # huggingface_hub.EvalResult
    aggregation: str | None = None
    base_scores: dict[str, float] = field(default_factory=dict)  # result_key -> the base model's value
    training_metrics: dict[str, float] = field(default_factory=dict)  # last evaluation during training
    start_metrics: dict[str, float] = field(default_factory=dict)  # evaluation at step 0, when run
    # file, steps, loss (first, last) or None, metric (name, first, last) or None, points ({series: [(step, value)]})
    curve: dict[str, Any] | None = None
    lora: dict[str, Any] | None = None
    release: str = "merged"  # or "adapters"
    classifier: dict[int, str] | None = None
    versions: dict[str, str] = field(default_factory=dict)
    citations: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    license: str | None = None
    language: list[str] = field(default_factory=list)


def result_key(result: Any) -> str:
    """What matches a model-index entry with the base model's: its dataset, split and metric (`MRPC (test, f1)`),
    so that one dataset may carry several splits and metrics."""
    return f"{result.dataset_name} ({result.dataset_split or 'test'}, {result.metric_type})"


def base_scores(results: list) -> dict[str, float]:
    """The base model's `EvalResult`s as `CardData.base_scores`."""
    return {result_key(result): float(result.metric_value) for result in results}


def set_evaluation(card: CardData, evaluation: Any = None, base_evaluation: Any = None) -> None:
    """The card's model-index and evaluation table: `evaluation` (a suite result, a list of them, or a list of
    `huggingface_hub.EvalResult`; see `hf_contrastive.evaluation.evaluation_results`) with its aggregation, and
    `base_evaluation` (the same, for the base model) beside it."""
    from ..evaluation.results import evaluation_results

    card.eval_results, card.aggregation = evaluation_results(evaluation)
    card.base_scores = base_scores(evaluation_results(base_evaluation)[0])


def architecture(model: Any) -> str:
    """`Transformer → Pooling (mean) → Dense (384 → 384, Tanh)`-style summary of a SentenceTransformer's modules."""
    parts = []
    for module in model:
        config = module.get_config_dict() if hasattr(module, "get_config_dict") else {}
        name = type(module).__name__
        if "pooling_mode" in config:
            name += f" ({config['pooling_mode']})"
        elif "out_features" in config:
            activation = str(config.get("activation_function", "")).rsplit(".", 1)[-1]
            name += f" ({config['in_features']} → {config['out_features']}{', ' + activation if activation else ''})"
        elif "layer_start" in config:
            name += f" (layers {config['layer_start']}..{config['num_hidden_layers']})"
        parts.append(name)
    return " → ".join(parts)


def framework_versions(with_peft: bool) -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    names = ["hf_contrastive", "sentence-transformers", "transformers", "torch", "datasets", "accelerate"]
    found = {"Python": platform.python_version()}
    for name in names + (["peft"] if with_peft else []):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def lora_details(model: Any) -> dict[str, Any] | None:
    """Rank, alpha, dropout, target modules and trainable-parameter share of a model's LoRA adapters."""
    config = lora_config(model)
    if config is None:
        return None
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    targets = config.target_modules
    return {"r": config.r, "alpha": config.lora_alpha, "dropout": config.lora_dropout,
            "target_modules": sorted(targets) if isinstance(targets, (set, list, tuple)) else targets,
            "trainable": trainable, "total": total}


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()
            if k.startswith("eval_") and isinstance(v, (int, float)) and not k.endswith(RUN_METRICS)}


def history_summary(log_history: list[dict[str, Any]], metric: str | None) -> tuple[dict, dict, dict | None]:
    """From a Trainer's `log_history`: the evaluation metrics at step 0 (if evaluated there) and at the last
    evaluation, and the curve: `(start, last, curve)`.

    The curve's `points` map each plotted series to its `(step, value)` pairs: the training `loss`, `eval_loss`, the
    headline metric (`metric`, else the first `*spearman_cosine` or `*accuracy`) and the other scores
    (`PLOTTED_SCORES`); `loss` and `metric` give the first and last values of the loss and of the headline metric."""
    evaluations = [entry for entry in log_history if any(k.startswith("eval_") for k in entry)]
    start = _numbers(evaluations[0]) if evaluations and evaluations[0].get("step") == 0 else {}
    last = _numbers(evaluations[-1]) if evaluations else {}
    if metric is not None and not metric.startswith("eval_"):
        metric = f"eval_{metric}"  # the Trainer's own rule for metric_for_best_model
    if metric not in last:
        metric = next((k for k in last if k.endswith(("spearman_cosine", "accuracy"))), None)
    plotted = [name for name in last if name in (metric, "eval_loss") or name.endswith(PLOTTED_SCORES)]
    points = {name: [(entry["step"], float(entry[name])) for entry in entries
                     if name in entry and "step" in entry and math.isfinite(entry[name])]
              for name, entries in [("loss", log_history)] + [(name, evaluations) for name in plotted]}
    points = {name: series for name, series in points.items() if series}
    if not points:
        return start, last, None
    losses, scores = points.get("loss"), points.get(metric)
    curve = {"file": "training_curve.png", "steps": max(x for series in points.values() for x, _ in series),
             "loss": (losses[0][1], losses[-1][1]) if losses else None,
             "metric": (metric, scores[0][1], scores[-1][1]) if scores else None, "points": points}
    return start, last, curve


def training_data(dataset: Any, given: list[dict[str, Any]] | tuple = ()) -> list[dict[str, Any]]:
    """Where each training set (a DatasetDict's parts each) came from, with its rows and columns.

    Each entry: `name`, the file or dataset it was loaded from (its `info.dataset_name`, which `load_text_dataset`
    sets to the file's name; a packaged builder's own name such as `text` or `csv` names nothing), `id` its Hub id,
    `config` and `split` the subset and split loaded, `part` the DatasetDict key. `given` is sentence-transformers'
    `model_card_data.train_datasets` (one entry per part: `name`, `id`, `split` set by the user, or inferred from the
    same info), read first. `name` and `id` both `None`: an unnamed in-memory dataset."""
    if dataset is None:
        return []
    parts = list(dataset.items()) if isinstance(dataset, dict) else [(None, dataset)]  # a DatasetDict is a dict
    hints = list(given) if len(given) == len(parts) else [{}] * len(parts)
    described = []
    for (part, data), hint in zip(parts, hints):
        info = getattr(data, "info", None)
        not_names = (None, "", "None", part, getattr(info, "builder_name", None))
        names = [name for name in (hint.get("name"), getattr(info, "dataset_name", None)) if name not in not_names]
        split = hint.get("split") or getattr(data, "split", None)
        config = hint.get("config") or getattr(info, "config_name", None)
        described.append({"name": names[0] if names else None, "id": hint.get("id") or None,
                          "config": config if config not in (None, "default") else None,
                          "split": str(split) if str(split) != "None" else None, "part": part,
                          "rows": len(data) if hasattr(data, "__len__") else None,
                          "columns": list(getattr(data, "column_names", None) or [])})
    return described


def set_training_dataset_id(model: Any, dataset_id: str) -> None:
    """Name the Hub dataset a model trains on, for data loaded with `datasets.load_dataset(dataset_id, ...)` (the
    `Dataset` keeps its subset and split, not its id): the `id` of the training set in sentence-transformers'
    `model_card_data.train_datasets`, which its card and this library's read. Call it once the trainer is built
    (its init describes the training set there)."""
    for entry in model.model_card_data.train_datasets[:1]:
        entry["id"] = dataset_id


def card_data_from_trainer(trainer: Any, *, release: str = "merged", model_id: str | None = None,
                           eval_results: list | None = None, aggregation: str | None = None) -> CardData:
    """Gather the card of a trained hf_contrastive trainer's model (and of its release as `merged` or `adapters`)."""
    model, args = trainer.model, trainer.args
    loss = trainer.loss if not isinstance(trainer.loss, dict) else None
    method = trainer.method_name or type(trainer).__name__
    card = model.model_card_data
    base_model = card.base_model or _hub_id(getattr(getattr(model.transformers_model, "config", None),
                                                    "_name_or_path", None))
    start, last, curve = history_summary(trainer.state.log_history, args.metric_for_best_model)
    data = training_data(trainer.train_dataset, card.train_datasets)
    lora = lora_details(model)
    citations = [c for c in [getattr(loss, "citation", None), LIBRARY_CITATION] if c]
    head = getattr(loss, "head", None)
    return CardData(
        model_name=model_id or f"{method} fine-tune of {base_model or 'a text encoder'}",
        method=method, base_model=base_model, model_id=model_id, paper=dict(trainer.paper),
        objective={**trainer.card_settings(),
                   **(loss.get_config_dict() if hasattr(loss, "get_config_dict") else {})},
        architecture=architecture(model), embedding_dimension=model.get_embedding_dimension(),
        max_seq_length=model.max_seq_length, similarity=model.similarity_fn_name,
        training_data=data, datasets=[entry["id"] for entry in data if entry["id"]],
        hyperparameters={"learning_rate": args.learning_rate, "per_device_train_batch_size":
                         args.per_device_train_batch_size, "steps": trainer.state.global_step,
                         "epochs": round(float(trainer.state.epoch or 0), 2), "warmup_steps": args.warmup_steps,
                         "weight_decay": args.weight_decay, "seed": args.seed, "world_size": args.world_size,
                         "precision": str(precision_in_effect(args)),
                         "max_seq_length (training)": getattr(args, "max_seq_length", None)},
        eval_results=list(eval_results or []), aggregation=aggregation, training_metrics=last, start_metrics=start,
        curve=curve, lora=lora, release=release if lora else "merged",
        classifier=dict(head.id2label) if head is not None and hasattr(head, "id2label") else None,
        versions=framework_versions(with_peft=lora is not None), citations=citations,
        tags=["sentence-transformers", "sentence-similarity", "feature-extraction", *card.tags],
        license=card.license, language=list(card.language or []),
    )


def _hub_id(name: str | None) -> str | None:
    """`name` when it looks like a Hub id (`org/model`), not a local path."""
    if not name or os.path.exists(name) or os.path.isabs(name) or name.count("/") != 1:
        return None
    return name
