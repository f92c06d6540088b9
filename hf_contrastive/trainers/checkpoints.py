"""Checkpoints: which of those a killed run leaves behind are complete and the latest complete one to resume from
(pure functions), and `CheckpointMixin`, the loss's own tensors in each checkpoint."""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

from safetensors.torch import load_file, save_file
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..distributed import loss_parameters, unwrap

LOSS_STATE_NAME = "loss_state.safetensors"

logger = logging.getLogger(__name__)


def is_complete_checkpoint(folder: str) -> bool:
    """Whether `folder` holds a whole checkpoint: transformers writes `trainer_state.json` last (after the weights,
    optimizer, scheduler and RNG states, and after this library's loss state), so a checkpoint whose
    `trainer_state.json` is missing or unreadable was cut short, e.g. by a killed run."""
    try:
        with open(os.path.join(folder, TRAINER_STATE_NAME), encoding="utf-8") as file:
            json.load(file)
    except (OSError, ValueError):
        return False
    return True


def last_complete_checkpoint(output_dir: str) -> str | None:
    """The `checkpoint-N` folder of `output_dir` with the highest N that `is_complete_checkpoint`, or `None`; the
    incomplete ones after it are named in a warning."""
    pattern = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")
    steps = sorted((int(m[1]), name) for name in (os.listdir(output_dir) if os.path.isdir(output_dir) else [])
                   if (m := pattern.match(name)) and os.path.isdir(os.path.join(output_dir, name)))
    skipped = []
    for _, name in reversed(steps):
        folder = os.path.join(output_dir, name)
        if is_complete_checkpoint(folder):
            if skipped:
                logger.warning(f"Resuming from {folder}: {', '.join(skipped)} in {output_dir} "
                               f"{'is' if len(skipped) == 1 else 'are'} incomplete (no readable {TRAINER_STATE_NAME},"
                               " which is written last: the run was probably stopped while saving).")
            return folder
        skipped.append(name)
    return None


class CheckpointMixin:
    """`ContrastiveTrainer`'s checkpoints: the loss's own tensors saved in each and restored on resume and
    `load_best_model_at_end`, and the checkpoint a resume takes."""

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
