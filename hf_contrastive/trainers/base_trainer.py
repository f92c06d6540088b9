"""`ContrastiveTrainer`: what every hf_contrastive trainer adds to `SentenceTransformerTrainer`."""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections.abc import Callable
from typing import Any

import torch
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
from transformers.trainer_utils import number_of_arguments

from ..data.checks import check_all_texts
from ..distributed import all_values, average_gradients, broadcast_parameters
from ..errors import NonFiniteLossError
from ..evaluation.sts import STSEvaluator, is_sts_dataset
from ..hub.card_data import keep_local_paths_private
from ..modeling.builder import DEFAULT_POOLER, build_sentence_transformer, is_sentence_transformer
from ..modeling.lora import add_lora, lora_config_from_args
from ..precision import precision_in_effect, precision_message, remove_training_autocast
from ..settings import settings_values
from .base_config import ContrastiveConfig
from .checkpoints import CheckpointMixin
from .release import ReleaseMixin
from .search import HyperparameterSearchMixin

logger = logging.getLogger(__name__)


class ContrastiveTrainer(CheckpointMixin, HyperparameterSearchMixin, ReleaseMixin, SentenceTransformerTrainer):
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

    Args:
        model (`str` or `SentenceTransformer`, *optional*, defaults to `None`): a Hub id or local path of an encoder
            or a SentenceTransformer, or the model itself; give this or `model_init`.
        args (the method's config, *optional*, defaults to `None`): e.g. `SimCSEConfig`; `None` is the config's
            defaults with `output_dir="tmp_trainer"`, as the Trainer does.
        train_dataset (`datasets.Dataset`, *optional*, defaults to `None`): the training rows, in the method's format
            (its page in the docs); checked when the trainer is built, before anything is written.
        eval_dataset (`datasets.Dataset`, *optional*, defaults to `None`): an STS set (`sentence1`, `sentence2`,
            `score`) becomes the `sts-dev` evaluator; any other set is evaluated with the loss (SFT+contrastive: a
            labelled set gives accuracy and macro F1).
        loss (`torch.nn.Module` or a function of the model, *optional*, defaults to `None`): replaces the method's
            loss built from `args`; a function is called with each fresh model (`model_init`, trials).
        evaluator (a sentence-transformers evaluator or a list of them, *optional*, defaults to `None`): run at every
            evaluation, beside the `sts-dev` evaluator an STS `eval_dataset` makes.
        peft_config (`peft.LoraConfig`, *optional*, defaults to `None`): adds LoRA adapters (also from `args.use_peft`
            and the `lora_*` fields); the `peft` extra.
        model_init (a function of no argument or of the trial, *optional*, defaults to `None`): returns a model name,
            path or SentenceTransformer; called for a fresh model on every `train` and every search trial.
        **kwargs: the other arguments of `SentenceTransformerTrainer` / `transformers.Trainer` (`callbacks`,
            `data_collator`, `optimizers`, ...), passed through.
    """

    # What a method declares (each trainer sets these; the CLI's `method:` table and the model card read them):
    method: str = ""  # the `method:` value of a YAML config, e.g. "simcse"
    method_name: str = ""  # the display name, e.g. "SimCSE"
    help: str = ""  # one line on the method and its data, for the CLI's method list
    paper: dict[str, str] = {}  # {"title": ..., "id": arXiv id} of the method's paper, if any
    card_fields: tuple[str, ...] = ()  # config fields shown in the model card beside the loss's own settings
    loss_class: type | None = None  # the default loss; its `settings_class` fields are config fields too
    default_pooler = DEFAULT_POOLER  # for a plain encoder when `args.pooler` is None (SimCSE's cls)
    prepare_with_user_loss = False  # whether `prepare_dataset` also runs when the user gives a `loss`
    data_fields: tuple[str, ...] = ()  # config fields the prepared datasets depend on: fixed for every trial
    search_space: dict[str, dict[str, Any]] | None = None  # `tune`'s default space (see `hf_contrastive.tuning`)
    data_arguments_class: type | None = None  # a config file's data fields beyond RunArguments (see `run_datasets`)
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

    @classmethod
    def run_datasets(cls, train_dataset: Any, sts_dataset: Any, data: Any,
                     load: Callable[[str | None, str | None], Any]) -> tuple[Any, Any, dict[str, Any]]:
        """A config file's datasets as this trainer takes them (`hf_contrastive.config_file.load_run`): `(train_dataset,
        eval_dataset, other trainer arguments)` from the loaded training set, the STS set of `sts_eval` (or `None`),
        the values of `data_arguments_class` (`data`, or `None`) and `load(file, split)`, which loads a file or a
        split of the config's dataset. The base class evaluates on the STS set."""
        return train_dataset, sts_dataset, {}

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
