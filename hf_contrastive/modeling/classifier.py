"""The classification head of SFT+contrastive, saved beside the SentenceTransformer, and a classifier to predict with.

A saved SFT+contrastive model is a plain SentenceTransformer folder plus `classifier/` (`config.json` and
`model.safetensors`): `SentenceTransformer(path)` loads the embedding model and ignores the head;
`EmbeddingClassifier.from_pretrained(path)` loads both and predicts labels.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

CLASSIFIER_FOLDER = "classifier"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def pair_features(embeddings: Sequence[Tensor]) -> Tensor:
    """The head's input: `u` for one text column; `(u, v, |u - v|)` for a pair (SBERT's `SoftmaxLoss`, Reimers &
    Gurevych 2019, the NLI classifier over sentence embeddings)."""
    if len(embeddings) == 1:
        return embeddings[0]
    first, second = embeddings
    return torch.cat([first, second, (first - second).abs()], dim=-1)


class ClassificationHead(nn.Module):
    """Dropout and a linear layer over the pooled embedding(s) of one text or of a text pair.

    Args:
        embedding_dim (`int`): the SentenceTransformer's embedding dimension.
        num_labels (`int`): number of classes (>= 2).
        num_inputs (`int`, *optional*, defaults to `1`): text columns per example: 1 (a text) or 2 (a pair,
            classified from `(u, v, |u - v|)`).
        dropout (`float`, *optional*, defaults to `0.1`): dropout on the head's input in training.
        id2label (`dict[int, str]`, *optional*): class names, saved in the config.
    """

    def __init__(self, embedding_dim: int, num_labels: int, num_inputs: int = 1, dropout: float = 0.1,
                 id2label: dict[int, str] | None = None) -> None:
        super().__init__()
        if num_labels < 2:
            raise ValueError(f"`num_labels` must be >= 2, got {num_labels}.")
        if num_inputs not in (1, 2):
            raise ValueError(f"The head classifies one text or a pair: `num_inputs` must be 1 or 2, got {num_inputs}.")
        if not 0 <= dropout < 1:
            raise ValueError(f"`classifier_dropout` must be in [0, 1), got {dropout}.")
        self.embedding_dim, self.num_labels, self.num_inputs = embedding_dim, num_labels, num_inputs
        self.id2label = {int(k): str(v) for k, v in (id2label or {i: str(i) for i in range(num_labels)}).items()}
        if sorted(self.id2label) != list(range(num_labels)):
            raise ValueError(f"`id2label` must name the classes 0..{num_labels - 1}, got keys {sorted(self.id2label)}.")
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(embedding_dim * (1 if num_inputs == 1 else 3), num_labels)

    def forward(self, embeddings: Sequence[Tensor]) -> Tensor:
        """Logits `(B, num_labels)` from one embedding tensor per text column."""
        if len(embeddings) != self.num_inputs:
            raise ValueError(f"The head was built for {self.num_inputs} text column(s) per example, got {len(embeddings)}.")
        return self.linear(self.dropout(pair_features(embeddings)))

    def get_config_dict(self) -> dict[str, Any]:
        return {"embedding_dim": self.embedding_dim, "num_labels": self.num_labels, "num_inputs": self.num_inputs,
                "dropout": self.dropout.p, "id2label": {str(k): v for k, v in self.id2label.items()}}

    def save_pretrained(self, folder: str) -> None:
        """`folder/config.json` and `folder/model.safetensors`."""
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, CONFIG_NAME), "w", encoding="utf-8") as file:
            json.dump({"architecture": "ClassificationHead", **self.get_config_dict()}, file, indent=2)
        save_file({k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()},
                  os.path.join(folder, WEIGHTS_NAME))

    @classmethod
    def from_pretrained(cls, folder: str) -> ClassificationHead:
        config_path = os.path.join(folder, CONFIG_NAME)
        with open(config_path, encoding="utf-8") as file:
            config = json.load(file)
        if config.pop("architecture", None) != "ClassificationHead":
            raise ValueError(f"{config_path} is not a ClassificationHead config.")
        head = cls(config["embedding_dim"], config["num_labels"], config["num_inputs"], config["dropout"],
                   {int(k): v for k, v in config["id2label"].items()})
        head.load_state_dict(load_file(os.path.join(folder, WEIGHTS_NAME)))
        return head.eval()


def _classifier_folder(model_name_or_path: str, revision: str | None = None) -> str:
    """The local `classifier/` folder of a saved model: in the directory itself, or downloaded from the Hub."""
    local = os.path.join(model_name_or_path, CLASSIFIER_FOLDER)
    if os.path.isdir(model_name_or_path):
        if not os.path.isfile(os.path.join(local, CONFIG_NAME)):
            raise FileNotFoundError(f"{model_name_or_path} has no {CLASSIFIER_FOLDER}/{CONFIG_NAME}: it was not saved by "
                                    "an SFTContrastiveTrainer (or the head was removed).")
        return local
    from huggingface_hub import hf_hub_download

    config = hf_hub_download(model_name_or_path, f"{CLASSIFIER_FOLDER}/{CONFIG_NAME}", revision=revision)
    hf_hub_download(model_name_or_path, f"{CLASSIFIER_FOLDER}/{WEIGHTS_NAME}", revision=revision)
    return os.path.dirname(config)


class EmbeddingClassifier(nn.Module):
    """A SentenceTransformer and its classification head, for prediction.

    Example:
        >>> classifier = EmbeddingClassifier.from_pretrained("out")  # a folder or Hub id saved by SFTContrastiveTrainer
        >>> classifier.predict(["a great movie", "a dull movie"])
        ['positive', 'negative']
        >>> classifier.predict([("A man plays.", "Someone plays.")])  # a head trained on pairs
    """

    def __init__(self, model: Any, head: ClassificationHead) -> None:
        super().__init__()
        self.model, self.head = model, head

    @classmethod
    def from_pretrained(cls, model_name_or_path: str, revision: str | None = None, **kwargs: Any) -> EmbeddingClassifier:
        """Load the SentenceTransformer (`kwargs` go to it) and the head from `classifier/`."""
        from sentence_transformers import SentenceTransformer

        head = ClassificationHead.from_pretrained(_classifier_folder(model_name_or_path, revision))
        model = SentenceTransformer(model_name_or_path, revision=revision, **kwargs)
        return cls(model, head.to(model.device))

    @torch.no_grad()
    def predict_proba(self, inputs: Sequence[str] | Sequence[tuple[str, str]], batch_size: int = 32) -> Tensor:
        """Class probabilities `(N, num_labels)` for texts, or for `(text, text)` pairs with a pair head."""
        if self.head.num_inputs == 2:
            if not all(isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in inputs):
                raise ValueError("This head classifies text pairs: pass a list of (text, text) tuples.")
            columns = [[pair[0] for pair in inputs], [pair[1] for pair in inputs]]
        else:
            columns = [list(inputs)]
        embeddings = [self.model.encode(column, batch_size=batch_size, convert_to_tensor=True) for column in columns]
        self.head.eval()
        return self.head([e.to(self.head.linear.weight.device) for e in embeddings]).softmax(dim=-1)

    def predict(self, inputs: Sequence[str] | Sequence[tuple[str, str]], batch_size: int = 32) -> list[str]:
        """The predicted class name of each input."""
        ids = self.predict_proba(inputs, batch_size=batch_size).argmax(dim=-1).tolist()
        return [self.head.id2label[i] for i in ids]
