"""One config dataclass and one `transformers.Trainer` subclass per method; `TRAINERS` lists the methods."""

from .base_config import ContrastiveConfig
from .base_trainer import ContrastiveTrainer
from .declutr_config import DeCLUTRConfig
from .declutr_trainer import DeCLUTRTrainer
from .sft_contrastive_config import SFTContrastiveConfig
from .sft_contrastive_trainer import SFTContrastiveTrainer
from .simcse_config import SimCSEConfig
from .simcse_trainer import SimCSETrainer
from .supcon_config import SupConConfig
from .supcon_trainer import SupConTrainer

TRAINERS = {trainer.method: trainer
            for trainer in (SimCSETrainer, DeCLUTRTrainer, SFTContrastiveTrainer, SupConTrainer)}

__all__ = ["ContrastiveConfig", "ContrastiveTrainer", "DeCLUTRConfig", "DeCLUTRTrainer", "SFTContrastiveConfig",
           "SFTContrastiveTrainer", "SimCSEConfig", "SimCSETrainer", "SupConConfig", "SupConTrainer", "TRAINERS"]
