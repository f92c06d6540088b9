"""`ContrastiveTrainer`: what every hf_contrastive trainer adds to `SentenceTransformerTrainer`."""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import os
from collections.abc import Callable
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
from transformers import Trainer
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, HPSearchBackend, number_of_arguments

from ..data.checks import check_all_texts
from ..distributed import all_values, average_gradients, broadcast_parameters, loss_parameters, unwrap
from ..errors import NonFiniteLossError
from ..evaluation.sts import STSEvaluator, is_sts_dataset
from ..hub.card import write_card
from ..hub.card_data import (CardData, card_data_from_trainer, keep_local_paths_private,
                              set_evaluation)
from ..hub.push import RELEASE_FOLDER, prepare_release, push_release
from ..modeling.builder import DEFAULT_POOLER, build_sentence_transformer, is_sentence_transformer
from ..modeling.classifier import CLASSIFIER_FOLDER
from ..modeling.lora import add_lora, lora_config_from_args, saving_adapters_with_peft
from ..precision import precision_in_effect, precision_message, remove_training_autocast
from ..settings import settings_values
from .base_config import ContrastiveConfig
from .checkpoints import is_complete_checkpoint, last_complete_checkpoint

LOSS_STATE_NAME = "loss_state.safetensors"
logger = logging.getLogger(__name__)


class ContrastiveTrainer(SentenceTransformerTrainer):
    """
    A `SentenceTransformerTrainer` (itself a `transformers.Trainer`) that

    - accepts a model name or path (built into a `SentenceTransformer` with `args.pooler`) or a `SentenceTransformer`,
      or a `model_init` returning either (no argument, or the trial), called for a fresh model on every `train`;
    - builds its default loss from its config (`get_default_loss`) and selects the columns it needs
      (`prepare_dataset`), unless a `loss=` is given: then the datasets go to that loss unchanged (except for
      trainers whose input format is their own, such as DeCLUTR's documents);
    - turns an `eval_dataset` with `sentence1`, `sentence2`, `score` columns into an `STSEvaluator` named
      `sts-dev` (metrics `eval_sts-dev_spearman_cosine`, ...), usable as `metric_for_best_model`;
    - saves the loss's own trainable parameters (e.g. a training-only MLP or an MLM head) in each checkpoint and
      restores them on `resume_from_checkpoint` and `load_best_model_at_end`, and under DDP starts them from
      process 0's values and averages their gradients across processes (DDP itself only covers the model);
    - resumes a killed run exactly: `resume_from_checkpoint=True` takes the latest *complete* checkpoint (one with
      its `trainer_state.json`, written last; the loss state is written first), never one half-written by the kill;
    - trains in the precision `args.precision` chose (bf16 where the device computes it natively, with `auto`) and
      logs which and why;
    - stops with `NonFiniteLossError` (the step, the loss and its terms) when a training loss is NaN or infinite,
      before that step updates the weights, on every process (`stop_on_nonfinite_loss`, default on);
    - adds LoRA adapters (`peft_config=LoraConfig(...)`, or `use_peft` and the `lora_*` fields of the config), so
      that only the adapters (and modules outside the transformer) train; with `model_init`, to each fresh model;
    - `hyperparameter_search` (transformers' own, optuna by default) with `model_init`: every trial trains a fresh
      model (LoRA added) with a config built from the trial's values (so its checks run), and a loss (its heads, SFT's
      frozen reference) and collator rebuilt from them; it maximises the watched metric (`objective_metric`) over the
      method's default search space (`hf_contrastive.tuning`) unless told otherwise;
    - tags the model card with `tags` and writes this library's card (`card_data`) on every save;
    - `push_to_hub` publishes a release: written in full to `output_dir/release` first (LoRA merged by default, or
      adapters only), then uploaded in one commit.

    No Hub token is written to disk: `training_args.bin` (the pickled config beside each checkpoint and saved model)
    holds `hub_token=None` (see `ContrastiveConfig.__getstate__`).
    """

    # What a method declares (each trainer sets these; the CLI's `method:` table and the model card read them):
    method: str = ""  # the `method:` value of a YAML config, e.g. "simcse"
    method_name: str = ""  # the display name, e.g. "SimCSE"
    paper: dict[str, str] = {}  # {"title": ..., "id": arXiv id} of the method's paper, if any
    card_fields: tuple[str, ...] = ()  # config fields shown in the model card beside the loss's own settings
    loss_class: type | None = None  # the default loss; its `settings_class` fields are config fields too
    default_pooler = DEFAULT_POOLER  # for a plain encoder when `args.pooler` is None (SimCSE's cls)
    prepare_with_user_loss = False  # whether `prepare_dataset` also runs when the user gives a `loss`
    data_fields: tuple[str, ...] = ()  # config fields the prepared datasets depend on: fixed for every trial
    training_args_class = ContrastiveConfig
    # transformers' gradient-accumulation contract: every loss here is a mean over its micro-batch, not normalised by
    # `num_items_in_batch`, so `training_step` divides it by the accumulation steps (an accumulated step is the mean
    # of its micro-batches). Said explicitly: a SentenceTransformer's `forward(**kwargs)` makes transformers guess
    # "already scaled" whenever a batch holds a `labels` key.
    loss_is_scaled_for_ga = False
    _initial_model: SentenceTransformer | None = None  # `model_init`'s first model, while the trainer is built

    @property
    def tags(self) -> list[str]:
        """The model card's tags: the library's and the method's."""
        return ["hf-contrastive", *([self.method.replace("_", "-")] if self.method else [])]

    def __init__(
        self,
        model: str | SentenceTransformer | None = None,
        args: ContrastiveConfig | None = None,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        loss: Any = None,
        evaluator: Any = None,
        peft_config: Any = None,
        model_init: Callable[..., str | SentenceTransformer] | None = None,
        **kwargs: Any,
    ) -> None:
        if args is None:
            args = self.training_args_class(output_dir="tmp_trainer")
        elif not isinstance(args, self.training_args_class):
            raise TypeError(
                f"`args` must be a {self.training_args_class.__name__}, got {type(args).__name__}."
            )
        self._peft_config = peft_config  # else `use_peft`: each model gets the `lora_*` fields of its run's config
        if model_init is not None:
            if model is not None:
                raise ValueError("Pass `model` or `model_init`, not both: `model_init` gives a fresh model to every "
                                 "`train` (every trial of `hyperparameter_search`).")
            self.args = args  # the config `model_init`'s models are built with (the Trainer sets it again)
            model_init = self.building(model_init)
            model = self._initial_model = model_init()
        else:
            model = self.with_lora(self.as_model(model, args), args)
        if kwargs.get("data_collator") is not None:  # a user's collator: get_data_collator is not called
            kwargs["data_collator"] = self.truncating(kwargs["data_collator"], args)
        self._own_collator = kwargs.get("data_collator") is None  # rebuilt for each fresh model
        # What builds the loss again for each fresh model: the config (default) or the user's `loss=lambda model: ...`
        # (a built loss only gets the fresh model, as in sentence-transformers).
        self._default_loss = loss is None
        self._loss_builder = self.get_default_loss if loss is None else \
            None if isinstance(loss, (torch.nn.Module, dict)) else loss
        if loss is not None:
            self.check_no_loss_fields(args)
        if is_sts_dataset(eval_dataset):  # an STS set becomes the `sts-dev` evaluator, beside any given one
            sts_dev = STSEvaluator.from_dataset(eval_dataset, name="sts-dev")
            given = [] if evaluator is None else list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]
            evaluator, eval_dataset = (sts_dev if not given else [*given, sts_dev]), None
        if loss is None or self.prepare_with_user_loss:
            train_dataset = self.prepare_dataset(train_dataset, args, "train_dataset", model)
            eval_dataset = self.prepare_dataset(eval_dataset, args, "eval_dataset", model)
        else:  # a user's loss defines its own columns; its texts must still be texts
            check_all_texts(train_dataset, "train_dataset")
            check_all_texts(eval_dataset, "eval_dataset")
        super().__init__(
            model=None if model_init is not None else model,  # the parents ask `call_model_init`: `_initial_model`
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            loss=loss,
            evaluator=evaluator,
            model_init=model_init,
            **kwargs,
        )
        self._initial_model = None
        self._search_args: ContrastiveConfig | None = None
        self.model.model_card_data.add_tags(self.tags)
        keep_local_paths_private(self.model)
        if self.args.should_log:
            logger.log(*precision_message(precision_in_effect(self.args), self.args.hardware))

    def as_model(self, model: Any, args: ContrastiveConfig) -> SentenceTransformer | None:
        """A name or path built into a SentenceTransformer (`build_model`), a SentenceTransformer as it is."""
        if isinstance(model, str):
            return self.build_model(model, args)
        if isinstance(model, SentenceTransformer):
            if args.pooler is not None:
                raise ValueError(
                    f"`pooler={args.pooler!r}` applies when `model` is a name or path. For a SentenceTransformer, "
                    "build it with `hf_contrastive.build_sentence_transformer(name, pooler=...)` or leave `pooler` unset."
                )
            return model
        if model is not None:
            raise TypeError(f"`model` must be a name, a path or a SentenceTransformer, got {type(model).__name__}.")
        return None

    def with_lora(self, model: SentenceTransformer | None, args: ContrastiveConfig) -> SentenceTransformer | None:
        """`model` with LoRA adapters from `peft_config`, or with `use_peft` from the config's `lora_*` fields (each
        model gets its own copy of the config: peft writes into it)."""
        peft_config = self._peft_config if self._peft_config is not None else \
            lora_config_from_args(args) if args.use_peft else None
        if peft_config is None:
            return model
        if model is None:
            raise ValueError("`peft_config` (or `use_peft`) needs a `model` or a `model_init`.")
        return add_lora(model, copy.deepcopy(peft_config))

    def building(self, model_init: Callable[..., Any]) -> Callable[[Any], SentenceTransformer]:
        """`model_init` (no argument, or the trial) returning a name, a path or a SentenceTransformer, as a function
        of the trial returning the SentenceTransformer `as_model` and `with_lora` make of it with the config of the
        run (`self.args`, the trial's during a search), which transformers calls on every `train`."""
        takes_trial = number_of_arguments(model_init)
        if takes_trial not in (0, 1):
            raise ValueError(f"`model_init` must take no argument or one (the trial), it takes {takes_trial}.")

        def fresh_model(trial: Any = None) -> SentenceTransformer:
            model = model_init(trial) if takes_trial else model_init()
            if model is None:
                raise ValueError("`model_init` returned None; it must return a model name, a path or a "
                                 "SentenceTransformer.")
            return self.with_lora(self.as_model(model, self.args), self.args)

        return fresh_model

    def check_no_loss_fields(self, args: ContrastiveConfig) -> None:
        """A user `loss=` replaces the default loss, so objective fields changed in the config would be ignored."""
        if self.loss_class is None:
            return
        defaults = {f.name: f.default for f in dataclasses.fields(self.training_args_class)}
        changed = [f"`{name}={value!r}`" for name, value in settings_values(args, self.loss_class.settings_class).items()
                   if value != defaults[name]]
        if changed:
            raise ValueError(
                f"{', '.join(changed)} configure{'s' if len(changed) == 1 else ''} the default loss, but a `loss` was "
                "given: set these on your loss instead, or leave them at their defaults."
            )

    def pooler_for(self, model_name_or_path: str, args: ContrastiveConfig) -> str | None:
        """`args.pooler`, else the method's default for a plain encoder; `None` keeps a SentenceTransformer's own."""
        if args.pooler is None and not is_sentence_transformer(model_name_or_path):
            return self.default_pooler
        return args.pooler

    def build_model(self, model_name_or_path: str, args: ContrastiveConfig) -> SentenceTransformer:
        """Model name or path -> SentenceTransformer with `pooler_for`'s pooler."""
        return build_sentence_transformer(model_name_or_path, pooler=self.pooler_for(model_name_or_path, args))

    @staticmethod
    def truncating(collator: Any, args: ContrastiveConfig) -> Any:
        """`collator` truncating training batches at `args.max_seq_length` (SimCSE trains at 32 tokens) through its
        `max_length`, without changing the model's own `max_seq_length`, which is saved and used at inference."""
        if args.max_seq_length is None:
            return collator
        fields = {f.name for f in dataclasses.fields(collator)} if dataclasses.is_dataclass(collator) else ()
        if "max_length" not in fields:
            raise ValueError(f"`max_seq_length={args.max_seq_length}` cannot reach the given `data_collator` "
                             f"({type(collator).__name__} has no `max_length`); truncate in your collator "
                             "and leave `max_seq_length=None`.")
        return dataclasses.replace(collator, max_length=args.max_seq_length)

    def get_data_collator(self, model, args: ContrastiveConfig, processing_class=None):
        """sentence-transformers' collator, made `truncating`."""
        return self.truncating(super().get_data_collator(model, args, processing_class), args)

    def prepare_dataset(self, dataset: Any, args: ContrastiveConfig, name: str, model: SentenceTransformer) -> Any:
        """Validate `dataset` and select the columns the method's loss expects; the base class passes it through."""
        return dataset

    def get_default_loss(self, model: SentenceTransformer) -> Any:
        """`loss_class` built from the config's values of its settings, and `loss_arguments`."""
        if self.loss_class is None:
            return super().get_default_loss(model)
        settings = settings_values(self.args, self.loss_class.settings_class)
        return self.loss_class(model, **settings, **self.loss_arguments(model))

    def loss_arguments(self, model: SentenceTransformer) -> dict[str, Any]:
        """The default loss's arguments that are not config fields (e.g. what the data or the model decide)."""
        return {}

    def _named_losses(self) -> list[tuple[str, Any]]:
        if isinstance(self.loss, dict):
            return [(f"{name}.", loss) for name, loss in self.loss.items()]
        return [("", self.loss)]

    def loss_parameters(self) -> list:
        """The trainable parameters that belong to the loss, not to the model (not synchronised by DDP)."""
        return [p for _, loss in self._named_losses() for p in loss_parameters(loss, self.model)]

    def loss_state_dict(self) -> dict:
        """The loss's own tensors, e.g. a training-only MLP or an MLM head: everything in its state that is not a
        tensor of the model (found by identity, so a wrapper loss holding the model deeper is handled too)."""
        model_tensors = {id(t) for t in unwrap(self.model).state_dict(keep_vars=True).values()}
        return {
            prefix + key: tensor.detach().clone().cpu()
            for prefix, loss in self._named_losses()
            for key, tensor in loss.state_dict(keep_vars=True).items()
            if id(tensor) not in model_tensors
        }

    def training_step(self, model, inputs, num_items_in_batch=None):
        """The Trainer's step; with `args.stop_on_nonfinite_loss`, `check_finite_loss`; then, on the micro-batch that
        completes an optimizer step, average the loss-owned parameters' gradients across processes (DDP covers only
        the model). This runs before gradient clipping, the fp16 overflow check and the optimizer step, so every
        process sees the same (possibly non-finite) gradients, and a non-finite loss stops before any update."""
        self._loss_components = None
        loss = super().training_step(model, inputs, num_items_in_batch)
        if self.args.stop_on_nonfinite_loss:
            self.check_finite_loss(loss)
        if self.accelerator.sync_gradients:
            average_gradients(self.loss_parameters())
        return loss

    def track_loss_components(self, loss: dict) -> None:
        """sentence-transformers' logging of a dict loss's terms; the training step's terms are kept for the message
        of `check_finite_loss`."""
        if self.model.training:
            self._loss_components = {name: value.detach() for name, value in loss.items()}
        super().track_loss_components(loss)

    def check_finite_loss(self, loss: torch.Tensor) -> None:
        """Raise `NonFiniteLossError` when this micro-batch's loss is NaN or infinite on any process (all processes
        compare their losses, so all of them raise: one stopping alone would leave the others waiting for it).

        `loss` is what `training_step` returns: the loss before fp16 loss scaling (`accelerator.backward` scales a
        copy), so a GradScaler's overflowing scaled gradients, its normal skipped steps, do not trigger this; a
        non-finite loss itself is not something the scaler can fix."""
        losses = all_values(loss)
        if bool(torch.isfinite(losses).all()):  # one device sync (transformers already syncs on the step's loss)
            return
        step = self.state.global_step + 1
        if len(losses) == 1:
            what = f"{losses.item():.4g} at step {step}"
        else:
            bad = [str(rank) for rank, v in enumerate(losses.tolist()) if not math.isfinite(v)]
            what = (f"not finite at step {step} on process{'es' if len(bad) > 1 else ''} {', '.join(bad)} (losses by "
                    f"process: {', '.join(f'{v:.4g}' for v in losses.tolist())}; this is process "
                    f"{self.args.process_index})")
        components = self._loss_components or {}
        terms = (f" (terms: {', '.join(f'{name}={v.float().mean().item():.4g}' for name, v in components.items())})"
                 if components else "")
        raise NonFiniteLossError(
            f"The training loss is {what}{terms}. Training stopped before this step's optimizer update"
            f"{' (DeepSpeed steps inside backward, so it has been applied)' if self.is_deepspeed_enabled else ''}; "
            f"the checkpoints already in {self.args.output_dir} are as they were. Try a lower "
            f"learning rate (now {self.args.learning_rate:g}), bf16 instead of fp16"
            f"{' (this run uses fp16)' if self.args.fp16 else ''}, gradient clipping (`max_grad_norm`), and check "
            "the data of this step (empty or very long texts, bad labels). `stop_on_nonfinite_loss=False` trains on "
            "regardless."
        )

    def train(self, resume_from_checkpoint: str | bool | None = None, trial: Any = None,
              ignore_keys_for_eval: list[str] | None = None):
        """transformers' `train`, where `resume_from_checkpoint=True` takes the latest *complete* checkpoint of
        `output_dir` (transformers would take the highest-numbered one, even one half-written by a killed run), and
        a given checkpoint folder that is incomplete is an error that says so. A trial of `hyperparameter_search`
        trains with the config `trial_args` builds, which the Trainer then reads throughout (seed, epochs, batch size,
        the fresh model's pooler and LoRA). After mixed-precision training the model's forward is fp32 again
        (accelerate leaves its autocast on it), so `trainer.model.encode` gives the embeddings of the saved model."""
        resume_from_checkpoint = self.checkpoint_to_resume(resume_from_checkpoint)
        if trial is not None and self.hp_search_backend is not None:
            self.args = self.trial_args(trial)
        if self.model_init is None:  # else in `setup_fresh_model`, for the fresh loss
            broadcast_parameters(self.loss_parameters())  # start every process from process 0's loss heads
        try:
            return super().train(resume_from_checkpoint, trial, ignore_keys_for_eval)
        finally:  # after bf16/fp16 training, `trainer.model` encodes in fp32, as the saved model does
            remove_training_autocast(self.model)

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
        - `hp_space` defaults to the method's search space (`hf_contrastive.tuning.DEFAULT_SEARCH_SPACES`);
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

    def card_settings(self) -> dict[str, Any]:
        """The config's `card_fields` as the model card shows them."""
        return {name: getattr(self.args, name) for name in self.card_fields}

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

    def checkpoint_to_resume(self, resume_from_checkpoint: str | bool | None) -> str | None:
        if resume_from_checkpoint is True:
            found = last_complete_checkpoint(self.args.output_dir)
            if found is None:
                raise ValueError(f"`resume_from_checkpoint=True`, but {self.args.output_dir} holds no complete "
                                 f"checkpoint ({PREFIX_CHECKPOINT_DIR}-N with a readable {TRAINER_STATE_NAME}).")
            return found
        if resume_from_checkpoint is False:
            return None
        if resume_from_checkpoint is not None and os.path.isdir(resume_from_checkpoint) and \
                not is_complete_checkpoint(resume_from_checkpoint):
            raise ValueError(f"{resume_from_checkpoint} is an incomplete checkpoint (no readable {TRAINER_STATE_NAME}, "
                             "which is written last: the run was probably stopped while saving it). Resume from an "
                             "earlier checkpoint, or pass `resume_from_checkpoint=True` for the latest complete one.")
        return resume_from_checkpoint

    def _save_checkpoint(self, model, trial) -> None:
        """The loss's own tensors first, then transformers' checkpoint, which writes `trainer_state.json` last: a
        checkpoint with a `trainer_state.json` is whole (`is_complete_checkpoint`), loss state included."""
        state = self.loss_state_dict()
        if state and self.args.should_save:
            folder = os.path.join(self._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
            os.makedirs(folder, exist_ok=True)
            save_file(state, os.path.join(folder, LOSS_STATE_NAME))
        super()._save_checkpoint(model, trial)

    def _load_from_checkpoint(self, checkpoint_path: str, model=None) -> None:
        super()._load_from_checkpoint(checkpoint_path)
        path = os.path.join(checkpoint_path, LOSS_STATE_NAME)
        if os.path.isfile(path):
            state = load_file(path)
            for prefix, loss in self._named_losses():
                own = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
                unexpected = loss.load_state_dict(own, strict=False).unexpected_keys
                if unexpected:
                    raise ValueError(f"{path} holds tensors the loss does not have: {unexpected}.")

    def classification_head(self) -> Any:
        """The classification head saved beside the model in `classifier/` (SFT+contrastive's), or `None`."""
        return None

    def card_data(self, *, release: str = "merged", model_id: str | None = None, evaluation: Any = None,
                  base_evaluation: Any = None, base_model: str | None = None) -> CardData:
        """The model card's data: the objective, data, hyperparameters, curve, LoRA and versions of this run, with
        `evaluation` (a suite result, a list of suite results — e.g. the STS and transfer suites' — or a list of
        `huggingface_hub.EvalResult`) as its model-index and `base_evaluation` (the same for the base model) beside
        it."""
        card = card_data_from_trainer(self, release=release, model_id=model_id)
        set_evaluation(card, evaluation, base_evaluation)
        card.base_model = base_model or card.base_model
        return card

    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        """sentence-transformers' save, then the classification head (if any) and this library's model card
        (replacing the generic one); a saved LoRA model holds its adapters (written by peft:
        `saving_adapters_with_peft`), and its card says so."""
        with saving_adapters_with_peft(self.model):
            super()._save(output_dir, state_dict)
        if self.args.should_save:  # transformers calls `_save` on every process; one writes
            folder = output_dir or self.args.output_dir
            head = self.classification_head()
            if head is not None:
                head.save_pretrained(os.path.join(folder, CLASSIFIER_FOLDER))
            write_card(folder, self.card_data(release="adapters"))

    def push_to_hub(self, commit_message: str | None = "End of training", blocking: bool = True,
                    token: str | None = None, revision: str | None = None, *, repo_id: str | None = None,
                    merge: bool = True, base_model_id: str | None = None, private: bool | None = None,
                    create_pr: bool = False, evaluation: Any = None, base_evaluation: Any = None,
                    timeout: float | None = None, **kwargs: Any) -> Any:
        """Release the trained model to the Hub.

        The release is written in full to `output_dir/release` (see `hf_contrastive.hub.prepare_release`): with LoRA,
        `merge=True` (default) merges the adapters into a standalone model and `merge=False` publishes the adapters,
        pointing at `base_model_id`. Then it is uploaded in one commit to `repo_id` (default `args.hub_model_id`, else
        the output folder's name under your user), to `revision` (a branch, created if missing) or as a pull request
        (`create_pr`), private if `private` (default `args.hub_private_repo`). The token (`token`, `args.hub_token`,
        or the one huggingface_hub finds) is only sent to the Hub. Returns huggingface_hub's `CommitInfo`; a failed
        upload, or a Hub request unanswered for `timeout` seconds (default `HF_CONTRASTIVE_PUSH_TIMEOUT`, else 120),
        raises `PushError` and leaves the release folder complete. Only the main process pushes.

        The release's card (`card_data`) carries `evaluation` (e.g. `evaluate_sts_suite(trainer.model)`, or a list
        of `huggingface_hub.EvalResult`) in its model-index and `.eval_results/`, beside `base_evaluation`.
        """
        if not self.is_world_process_zero():
            return None
        repo_id = repo_id or self.args.hub_model_id or os.path.basename(os.path.abspath(self.args.output_dir))
        card = self.card_data(release="merged" if merge else "adapters", model_id=repo_id, evaluation=evaluation,
                              base_evaluation=base_evaluation, base_model=base_model_id)
        folder = prepare_release(self.model, os.path.join(self.args.output_dir, RELEASE_FOLDER), merge=merge,
                                 base_model_id=base_model_id, card=card, classifier=self.classification_head())
        return push_release(folder, repo_id, token=token or self.args.hub_token,
                            private=bool(self.args.hub_private_repo) if private is None else private,
                            revision=revision or self.args.hub_revision, create_pr=create_pr,
                            commit_message=commit_message or "End of training",
                            retry_hint=f"trainer.push_to_hub(repo_id={repo_id!r})", timeout=timeout)

