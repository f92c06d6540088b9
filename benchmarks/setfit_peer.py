"""SetFit (Tunstall et al., 2022), the few-label peer of the semi-supervised study: setfit's own `Trainer` on the
labelled rows only (contrastive pairs drawn from them train the body with `CosineSimilarityLoss`, then a logistic
regression head is fitted on its embeddings). A peer baseline for the benchmarks (`pip install setfit`), not a
dependency of the library."""

from __future__ import annotations

import os
import time
from typing import Any


def train_setfit(model_path: str, texts: list[str], labels: list[int], *, steps: int | None, batch_size: int,
                 learning_rate: float, max_seq_length: int, seed: int, output_dir: str) -> tuple[Any, float]:
    """A SetFit model trained on `(texts, labels)` and its training seconds. `steps`: the body's optimizer steps
    (SetFit's `max_steps`, so that it trains as many steps as the other methods); `None`: SetFit's own budget (one
    epoch over its `oversampling` pairs)."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    model = SetFitModel.from_pretrained(model_path)
    args = TrainingArguments(output_dir=os.path.join(output_dir, "setfit"), batch_size=batch_size, num_epochs=1,
                             max_steps=-1 if steps is None else steps, body_learning_rate=learning_rate,
                             max_length=max_seq_length, seed=seed, report_to="none", show_progress_bar=False,
                             save_strategy="no", logging_strategy="no")
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": texts, "label": labels}))
    start = time.perf_counter()
    trainer.train()
    return model, time.perf_counter() - start


def setfit_accuracy(model: Any, texts: list[str], labels: list[int]) -> float:
    """Test accuracy (%) of a SetFit model's predictions."""
    predictions = model.predict(texts, batch_size=128, as_numpy=True)
    return 100 * sum(int(p) == g for p, g in zip(predictions, labels)) / len(labels)
