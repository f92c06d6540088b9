"""`ContrastiveTrainer`: what every hf_contrastive trainer adds to `SentenceTransformerTrainer`."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

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

    - accepts a model name or path (built into a `SentenceTransformer` with `args.pooler`) or a `SentenceTransformer`;
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
      that only the adapters (and modules outside the transformer) train;
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
    training_args_class = ContrastiveConfig

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
        **kwargs: Any,
    ) -> None:
        if args is None:
            args = self.training_args_class(output_dir="tmp_trainer")
        elif not isinstance(args, self.training_args_class):
            raise TypeError(
                f"`args` must be a {self.training_args_class.__name__}, got {type(args).__name__}."
            )
        if isinstance(model, str):
            model = self.build_model(model, args)
        elif isinstance(model, SentenceTransformer):
            if args.pooler is not None:
                raise ValueError(
                    f"`pooler={args.pooler!r}` applies when `model` is a name or path. For a SentenceTransformer, "
                    "build it with `hf_contrastive.build_sentence_transformer(name, pooler=...)` or leave `pooler` unset."
                )
        elif model is not None:
            raise TypeError(f"`model` must be a name, a path or a SentenceTransformer, got {type(model).__name__}.")
        if kwargs.get("data_collator") is not None:  # a user's collator: get_data_collator is not called
            kwargs["data_collator"] = self.truncating(kwargs["data_collator"], args)
        if peft_config is None and args.use_peft:
            peft_config = lora_config_from_args(args)
        if peft_config is not None:
            if model is None:
                raise ValueError("`peft_config` needs a `model` (not `model_init`).")
            add_lora(model, peft_config)
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
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            loss=loss,
            evaluator=evaluator,
            **kwargs,
        )
        self.model.model_card_data.add_tags(self.tags)
        keep_local_paths_private(self.model)
        if self.args.should_log:
            logger.log(*precision_message(precision_in_effect(self.args), self.args.hardware))

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

    def train(self, resume_from_checkpoint: str | bool | None = None, *args, **kwargs):
        """transformers' `train`, where `resume_from_checkpoint=True` takes the latest *complete* checkpoint of
        `output_dir` (transformers would take the highest-numbered one, even one half-written by a killed run), and
        a given checkpoint folder that is incomplete is an error that says so. After mixed-precision training the
        model's forward is fp32 again (accelerate leaves its autocast on it), so `trainer.model.encode` gives the
        embeddings of the saved model."""
        resume_from_checkpoint = self.checkpoint_to_resume(resume_from_checkpoint)
        broadcast_parameters(self.loss_parameters())  # start every process from process 0's loss heads
        try:
            return super().train(resume_from_checkpoint, *args, **kwargs)
        finally:  # after bf16/fp16 training, `trainer.model` encodes in fp32, as the saved model does
            remove_training_autocast(self.model)

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

