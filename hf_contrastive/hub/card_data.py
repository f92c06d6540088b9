"""What a release's model card says about the model, gathered from the trainer and the model."""

from __future__ import annotations

import os
from typing import Any


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
