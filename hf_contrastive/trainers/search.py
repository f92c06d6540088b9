"""`ContrastiveTrainer`'s hyperparameter search: transformers' `hyperparameter_search` with a fresh model, loss and
collator in every trial, the trial's config checked, and the metric a search maximises."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sentence_transformers import SentenceTransformer
from transformers import Trainer
from transformers.trainer_utils import HPSearchBackend

from ..distributed import broadcast_parameters
from ..hub.card_data import keep_local_paths_private
from .base_config import ContrastiveConfig


class HyperparameterSearchMixin:
    """The `model_init` and `hyperparameter_search` half of `ContrastiveTrainer` (see its docstring)."""

    def call_model_init(self, trial: Any = None) -> SentenceTransformer:
        """A fresh model from `model_init` (see `building`); while the trainer is being built, the one it built first
        (the parent constructors each ask for one). A built user loss gets it (sentence-transformers' step); a loss
        this trainer builds is built again for it (`setup_fresh_model`), the old one left as it was."""
        if self._initial_model is not None:
            return self._initial_model
        if self._loss_builder is not None:
            return Trainer.call_model_init(self, trial)
        return super().call_model_init(trial)

    def _hp_search_setup(self, trial: Any) -> None:
        """transformers' setup of each `train` (a trial's values onto the config, already there from `train`); then,
        when `model_init` gave this run a fresh model, its own loss and collator (`setup_fresh_model`)."""
        super()._hp_search_setup(trial)
        if self.model_init is not None:
            self.setup_fresh_model()

    def setup_fresh_model(self) -> None:
        """For a fresh model from `model_init`: the loss built again from it and the run's config (new heads, SFT's
        new frozen reference; a built user loss only gets the new model, as in sentence-transformers), the collator
        (which tokenizes with the model) built again unless it is the user's, and the card's tags."""
        if self._loss_builder is not None:
            self.loss = self.prepare_loss(self._loss_builder(self.model), self.model)
        if self._own_collator:
            self.data_collator = self.get_data_collator(self.model, self.args, self.processing_class)
        self.model.model_card_data.add_tags(self.tags)
        keep_local_paths_private(self.model)
        broadcast_parameters(self.loss_parameters())

    def trial_args(self, trial: Any) -> ContrastiveConfig:
        """The config of one trial: the search's config with the trial's values (optuna: what `hp_space` suggests;
        Ray Tune / W&B: the trial's dict), built anew so that every check of the config runs on them."""
        if self.hp_search_backend == HPSearchBackend.OPTUNA:
            values = self.hp_space(trial)
        else:
            values = {key: value for key, value in dict(trial).items() if key != "wandb"}
        base = self._search_args or self.args
        fields = {f.name for f in dataclasses.fields(base) if f.init}
        for name, value in values.items():
            if name not in fields:
                raise ValueError(f"The search space sets `{name}={value!r}`, which is not a field of "
                                 f"{type(base).__name__}.")
            if name in self.data_fields and value != getattr(base, name):
                raise ValueError(f"The search space sets `{name}={value!r}`, but the training data was prepared with "
                                 f"`{name}={getattr(base, name)!r}` once for all trials: leave `{name}` out of it.")
        args = dataclasses.replace(base, **values)
        self.check_trial_args(args)
        return args

    def check_trial_args(self, args: ContrastiveConfig) -> None:
        """Checks of a trial's config beyond the config's own: with a user's loss, no default-loss field changed."""
        if not self._default_loss:
            self.check_no_loss_fields(args)

    def hyperparameter_search(self, hp_space: Callable[[Any], dict[str, Any]] | None = None,
                              compute_objective: Callable[[dict[str, float]], float] | None = None,
                              n_trials: int = 20, direction: str | list[str] | None = None,
                              backend: str | HPSearchBackend | None = "optuna", hp_name: Callable[[Any], str] | None = None,
                              **kwargs: Any) -> Any:
        """transformers' `hyperparameter_search` (optuna by default; `kwargs` go to `optuna.create_study`, e.g.
        `sampler=optuna.samplers.TPESampler(seed=0)`, `storage`, `study_name`), with `model_init`, where

        - each trial trains a fresh model with the config `trial_args` builds and its own loss (`setup_fresh_model`);
        - `hp_space` defaults to the trainer's `search_space` (`hf_contrastive.tuning.default_search_space`);
        - `compute_objective` defaults to the watched metric (`objective_metric`), and `direction` to `maximize`
          (`minimize` when `greater_is_better=False`; pass it with a `compute_objective` to minimise).

        Returns transformers' `BestRun` (`run_id`, `objective`, `hyperparameters`). Afterwards `trainer.args` is the
        given config again; the trainer holds no model (transformers frees the last trial's): train the best
        values in a new trainer (`hf_contrastive.tuning.best_config` writes them into a config file)."""
        if self.model_init is None:
            raise ValueError("`hyperparameter_search` trains a fresh model in every trial: build the trainer with "
                             "`model_init` (e.g. `model_init=lambda: 'model-id'`) instead of `model`.")
        if hp_space is None:
            from ..tuning import default_hp_space

            hp_space = default_hp_space(type(self))
        if compute_objective is None:
            compute_objective = self.watched_objective()
        if direction is None:
            direction = "minimize" if self.args.greater_is_better is False else "maximize"
        self._search_args = self.args
        try:
            return super().hyperparameter_search(hp_space, compute_objective, n_trials, direction, backend, hp_name,
                                                 **kwargs)
        finally:
            self.args, self._search_args, self.hp_search_backend = self._search_args, None, None

    def objective_metric(self) -> str:
        """The metric a search maximises by default: `metric_for_best_model` (with `eval_`), else the evaluator's
        primary metric (`eval_sts-dev_spearman_cosine` for an STS `eval_dataset`; read after an evaluation, which
        names it), else the method's `default_metric`; a `ValueError` when there is none."""
        if self.args.metric_for_best_model:
            name = self.args.metric_for_best_model
            return name if name.startswith("eval_") else f"eval_{name}"
        if self.evaluator is not None:
            return f"eval_{self.evaluator.primary_metric}"
        name = self.default_metric()
        if name is None:
            raise ValueError("Nothing to maximise: `metric_for_best_model` is unset and the trainer has no evaluator. "
                             "Pass an `eval_dataset` (an STS set with `sentence1`, `sentence2`, `score` becomes the "
                             f"`sts-dev` evaluator{self.default_metric_hint}) or an `evaluator`, set "
                             "`metric_for_best_model`, or give `compute_objective`.")
        return name

    default_metric_hint = ""  # how a method's own eval_dataset gives a metric, for `objective_metric`'s error

    def default_metric(self) -> str | None:
        """The metric to maximise without `metric_for_best_model` or an evaluator; none by default."""
        return None

    def watched_objective(self) -> Callable[[dict[str, float]], float]:
        """`compute_objective` returning `objective_metric` from the evaluation's metrics (checked now)."""
        self.objective_metric()

        def objective(metrics: dict[str, float]) -> float:
            name = self.objective_metric()
            if name not in metrics:
                raise ValueError(f"The search maximises `{name}`, which the evaluation did not report (it reported "
                                 f"{sorted(metrics)}): set `metric_for_best_model` to one of them, or pass "
                                 "`compute_objective`.")
            return metrics[name]

        return objective
