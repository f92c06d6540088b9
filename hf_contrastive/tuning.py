"""Hyperparameter search with the Trainer's own `hyperparameter_search` (optuna): each method's default search space,
search spaces read from YAML, the search itself with all its trials, the trials as a table, and the best trial
written as a config that `hf-contrastive train` runs.

A search space maps config fields to how a trial draws them (the YAML file's format too)::

    learning_rate: {type: float, low: 1.0e-6, high: 1.0e-4, log: true}
    per_device_train_batch_size: {type: categorical, choices: [32, 64, 128]}
    num_train_epochs: {type: int, low: 1, high: 3}

Needs optuna: the `tune` extra (`pip install -e ".[tune]"` in a clone).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .settings import choice_fields

SearchSpace = dict[str, dict[str, Any]]  # {config field: {type, low, high, log} or {type: categorical, choices}}
SPEC_KEYS = {"float": {"type", "low", "high", "log"}, "int": {"type", "low", "high", "log"},
             "categorical": {"type", "choices"}}
STUDY_NAME = "hf-contrastive"

LEARNING_RATE = {"type": "float", "low": 1e-6, "high": 1e-4, "log": True}
TEMPERATURE = {"type": "float", "low": 0.01, "high": 0.2, "log": True}


def default_search_space(trainer_class: type) -> SearchSpace:
    """The search space of a method, its trainer's `search_space`, searched when no other is given.

    Every method draws `learning_rate` log-uniformly in [1e-6, 1e-4] (`LEARNING_RATE`: the step that matters most;
    its good values span orders of magnitude, from 1e-5 for large encoders to 1e-4 with LoRA) and the softmax
    `temperature` log-uniformly in [0.01, 0.2] (`TEMPERATURE`: SimCSE's ablation, its Table D.1, finds 0.05 best and
    0.001 or 1 far worse; the contrastive terms here are all InfoNCE-like), then one or two settings of its own,
    explained beside each trainer's `search_space`.
    """
    if trainer_class.search_space is None:
        raise ValueError(f"{trainer_class.__name__} has no default search space (method {trainer_class.method!r}); "
                         "give one.")
    return trainer_class.search_space


def optuna_hp_space(space: SearchSpace) -> Callable[[Any], dict[str, Any]]:
    """`space` as the `hp_space` of `Trainer.hyperparameter_search`: an optuna trial -> `{field: value}`."""

    def hp_space(trial: Any) -> dict[str, Any]:
        values = {}
        for name, spec in space.items():
            if spec["type"] == "categorical":
                values[name] = trial.suggest_categorical(name, spec["choices"])
            else:
                suggest = trial.suggest_float if spec["type"] == "float" else trial.suggest_int
                values[name] = suggest(name, spec["low"], spec["high"], log=spec.get("log", False))
        return values

    return hp_space


def default_hp_space(trainer_class: type) -> Callable[[Any], dict[str, Any]]:
    """The `hp_space` of `default_search_space`."""
    return optuna_hp_space(default_search_space(trainer_class))


def check_search_space(space: Any, trainer_class: type, source: str = "search space") -> SearchSpace:
    """`space` checked against `trainer_class`'s config, with numbers written as strings (YAML reads `1e-5`, without
    a dot, as one) made numbers. A `ValueError` names `source`, the field and the value of any problem: a field the
    config lacks or that shapes the prepared data (`trainer_class.data_fields`), an unknown `type` or key, a bound
    that is not a number (a whole one for `int`), `low >= high`, `log` with `low <= 0`, empty `choices`, a choice
    a `Literal` field does not allow (or a range over one)."""
    if not isinstance(space, dict):
        raise ValueError(f"{source}: a search space maps config fields to their ranges, got {type(space).__name__}.")
    config_class = trainer_class.training_args_class
    fields = {f.name for f in dataclasses.fields(config_class) if f.init}
    allowed = choice_fields(config_class)
    checked = {}
    for name, spec in space.items():
        where = f"{source}: `{name}`"
        if name not in fields:
            raise ValueError(f"{where} is not a field of {config_class.__name__}.")
        if name in trainer_class.data_fields:
            raise ValueError(f"{where} shapes the training data, which is prepared once for all trials: it cannot be "
                             "searched.")
        if not isinstance(spec, dict) or spec.get("type") not in SPEC_KEYS:
            raise ValueError(f"{where} must be a mapping with `type` float, int or categorical, got {spec!r}.")
        unknown = sorted(set(spec) - SPEC_KEYS[spec["type"]])
        if unknown:
            raise ValueError(f"{where}: {unknown} do not apply to type {spec['type']} (keys: "
                             f"{sorted(SPEC_KEYS[spec['type']])}), got {spec!r}.")
        checked[name] = check_choices(spec, where) if spec["type"] == "categorical" else check_range(spec, where)
        searchable = spec["type"] == "categorical" and set(checked[name]["choices"]) <= set(allowed.get(name, ()))
        if name in allowed and not searchable:
            raise ValueError(f"{where} takes one of {allowed[name]}: search it as `type: categorical` with `choices` "
                             f"among them, got {spec!r}.")
    return checked


def check_range(spec: dict[str, Any], where: str) -> dict[str, Any]:
    """A float or int range: `low` < `high`, numbers (whole for int), `log` a bool and then `low > 0`."""
    number = float if spec["type"] == "float" else int
    bounds = {}
    for key in ("low", "high"):
        value = spec.get(key)
        try:
            converted = float(value if not isinstance(value, bool) else None)
        except (TypeError, ValueError):
            converted = float("nan")
        if not math.isfinite(converted) or (number is int and not converted.is_integer()):
            raise ValueError(f"{where}: `{key}` must be a{' whole' if number is int else ''} number, got {value!r}.")
        bounds[key] = number(converted)
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ValueError(f"{where}: `log` must be true or false, got {log!r}.")
    if not bounds["low"] < bounds["high"]:
        raise ValueError(f"{where}: `low` must be below `high`, got low={bounds['low']!r}, high={bounds['high']!r}.")
    if log and bounds["low"] <= 0:
        raise ValueError(f"{where}: `log: true` needs `low` > 0, got {bounds['low']!r}.")
    return {"type": spec["type"], **bounds, "log": log}


def check_choices(spec: dict[str, Any], where: str) -> dict[str, Any]:
    """A categorical: a non-empty list of `choices` (numbers, strings, booleans or null, as optuna stores them)."""
    choices = spec.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ValueError(f"{where}: `choices` must be a non-empty list, got {choices!r}.")
    bad = [c for c in choices if c is not None and not isinstance(c, (bool, int, float, str))]
    if bad:
        raise ValueError(f"{where}: `choices` must be numbers, strings, booleans or null, got {bad[0]!r}.")
    return {"type": "categorical", "choices": choices}


def read_search_space(path: str, trainer_class: type) -> SearchSpace:
    """The search space of a YAML file (see the module's docstring), checked by `check_search_space`."""
    import yaml

    with open(path, encoding="utf-8") as f:
        return check_search_space(yaml.safe_load(f), trainer_class, source=path)


@dataclass
class SearchResult:
    """What a search found.

    Parameters:
        best (`dict[str, Any]`): the best trial's values, `{field: value}`.
        best_trial (`int`): its number.
        best_value (`float`): its objective.
        objective (`str`): what was optimised (the watched metric, e.g. `eval_sts-dev_spearman_cosine`).
        direction (`str`): `maximize` or `minimize`.
        trials (`list[optuna.trial.FrozenTrial]`): every trial, in order (`number`, `state`, `value`, `params`).
    """

    best: dict[str, Any]
    best_trial: int
    best_value: float
    objective: str
    direction: str
    trials: list


def search(trainer: Any, n_trials: int, space: SearchSpace | str | None = None, seed: int | None = None,
           direction: str | None = None, compute_objective: Callable[[dict[str, float]], float] | None = None
           ) -> SearchResult:
    """Run `trainer.hyperparameter_search` (optuna's TPE sampler seeded with `seed`, default `trainer.args.seed`)
    for `n_trials` over `space` (a `SearchSpace`, a YAML file's path, or `None`: the method's default), and return
    every trial with the best. `trainer` is a trainer built with `model_init` (e.g. `SimCSETrainer(model_init=lambda:
    "bert-base-uncased", args=..., train_dataset=..., eval_dataset=load_stsb("dev"))`); the objective is its watched
    metric (`objective_metric`) unless `compute_objective` is given, maximised unless `direction` says otherwise."""
    import optuna

    trainer_class = type(trainer)
    if space is None:
        space = default_search_space(trainer_class)
    elif isinstance(space, str):
        space = read_search_space(space, trainer_class)
    else:
        space = check_search_space(space, trainer_class)
    storage = optuna.storages.InMemoryStorage()
    sampler = optuna.samplers.TPESampler(seed=trainer.args.seed if seed is None else seed)
    best = trainer.hyperparameter_search(hp_space=optuna_hp_space(space), compute_objective=compute_objective,
                                         n_trials=n_trials, direction=direction, backend="optuna", storage=storage,
                                         study_name=STUDY_NAME, sampler=sampler)
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
    return SearchResult(best=dict(best.hyperparameters), best_trial=int(best.run_id), best_value=best.objective,
                        objective="objective" if compute_objective else trainer.objective_metric(),
                        direction=study.direction.name.lower(), trials=study.trials)


def trials_table(result: SearchResult) -> str:
    """The trials as a text table (one row per trial: number, state, objective, values), the best one marked `*`."""
    names = list(dict.fromkeys(name for trial in result.trials for name in trial.params))
    header = ["trial", "state", result.objective, *names]
    rows = [[f"{trial.number}{'*' if trial.number == result.best_trial else ''}",
             trial.state.name.lower(), _cell(trial.value), *(_cell(trial.params.get(name, "")) for name in names)]
            for trial in result.trials]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in [header, *rows])


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "" if value is None else str(value)


def best_config(config: dict[str, Any], best: dict[str, Any]) -> dict[str, Any]:
    """A `train` config with the best trial's values: `config`'s keys in their order, the searched ones replaced,
    searched fields it did not set added after them."""
    return {**config, **best}


def write_best_config(config_path: str, best: dict[str, Any], output_path: str) -> dict[str, Any]:
    """Write the YAML config of `config_path` with the best trial's values (`best_config`) to `output_path`, which
    `hf-contrastive train` runs (the comments of the input are not kept); return it."""
    import yaml

    with open(config_path, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    if not isinstance(config, dict):
        raise ValueError(f"{config_path}: the config must be a mapping of keys to values, got {type(config).__name__}.")
    written = best_config(config, best)
    with open(output_path, "w", encoding="utf-8") as f:
        yaml.safe_dump(written, f, sort_keys=False)
    return written
