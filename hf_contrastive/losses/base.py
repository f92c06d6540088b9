"""`ContrastiveLoss`: what every loss of this library shares."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn
from sentence_transformers import SentenceTransformer

from .cache import use_gradient_cache
from ..settings import GradCacheSettings, adopt, describe


class ContrastiveLoss(nn.Module):
    """
    The base of this library's sentence-transformers losses. A loss declares

    - `settings_class`: its settings dataclass (`SimCSESettings`, ...), the hyperparameters its `__init__` takes as
      keyword arguments with the dataclass's defaults;
    - `citation`: its BibTeX, which sentence-transformers' model card cites (a property where it depends on the
      settings);

    and passes its keyword arguments on to `ContrastiveLoss.__init__(model, **settings)`, which checks them by
    building `settings_class` (kept as `self.settings`), gives the loss each field as an attribute (as
    sentence-transformers' losses keep their hyperparameters), switches GradCache on when the settings have a
    `mini_batch_size`, and keeps `self.model`. `get_config_dict` (the settings on the model card) follows from there.
    """

    settings_class: ClassVar[type]
    citation: ClassVar[str]

    def __init__(self, model: SentenceTransformer, **settings: Any) -> None:
        super().__init__()
        self.settings = self.settings_class(**settings)
        adopt(self, self.settings)
        if isinstance(self.settings, GradCacheSettings):
            use_gradient_cache(self, self.settings.mini_batch_size)
        self.model = model

    def get_config_dict(self) -> dict[str, Any]:
        """The settings, for the model card (without the MLM term's details when it is off)."""
        return describe(self, self.settings_class)
