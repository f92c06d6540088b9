"""Checkpoints a killed run leaves behind: which are complete, and the latest complete one to resume from."""

from __future__ import annotations

import json
import logging
import os
import re

from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

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
