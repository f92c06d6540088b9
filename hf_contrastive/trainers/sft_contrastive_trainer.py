"""`SFTContrastiveTrainer`: supervised fine-tuning that keeps the pretrained embedding space, as a `Trainer`."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from datasets import DatasetDict
from sentence_transformers import SentenceTransformer

from ..data.batches import (AlternatingBatchSampler, BatchCompositionSettings, MixedBatchSampler, check_composition,
                            labelled_rows, mixing_share)
from ..data.checks import arrow_column
from ..data.sft import sft_datasets
from ..data.transforms import label_names, sft_columns, with_unlabelled
from ..errors import DataError
from ..evaluation.metrics import classification_metrics
from ..evaluation.sts import STSEvaluator
from ..losses.sft_contrastive import SFTContrastiveLoss
from ..tuning import LEARNING_RATE, TEMPERATURE
from .base_trainer import ContrastiveTrainer
from .sft_contrastive_config import SFTContrastiveConfig, SFTDataArguments


class SFTContrastiveTrainer(ContrastiveTrainer):
    """
    Fine-tunes a sentence-embedding model on a classification task (`L = CE + λ·InfoNCE to the frozen pretrained
    embeddings`), so that it learns the task without losing its general-purpose embeddings.

    Example:
        >>> args = SFTContrastiveConfig(output_dir="out", contrastive_weight=1.0, eval_strategy="epoch",
        ...                             metric_for_best_model="eval_accuracy")
        >>> trainer = SFTContrastiveTrainer(
        ...     model="sentence-transformers/all-MiniLM-L6-v2", args=args,
        ...     train_dataset=Dataset.from_dict({"text": texts, "label": labels}),  # or (premise, hypothesis, label)
        ...     unlabelled_dataset=Dataset.from_dict({"text": more_texts}),  # optional
        ...     eval_dataset=Dataset.from_dict({"text": dev_texts, "label": dev_labels}))
        >>> trainer.train()
        >>> SentenceTransformer("out")                 # the embedding model
        >>> EmbeddingClassifier.from_pretrained("out").predict(["a text"])  # with its head

    Data: `train_dataset` holds one text column (or two, a pair classified from `(u, v, |u - v|)`) and a `label`
    column of class ids (a `ClassLabel`'s names become the head's `id2label`; `-1` marks an unlabelled row).
    `unlabelled_dataset` adds texts for the contrastive term: with label `-1` in the same batches as the labelled rows
    (`strategy="mixing"`: exactly `labelled_per_batch` labelled rows in each batch, unset half of it) or in batches
    of their own, in turn with the labelled batches (`strategy="alternating"`, `unlabelled_batches_per_labelled`
    unlabelled batches after each labelled one); the composition is documented in `hf_contrastive.data.batches`. An
    `eval_dataset` with labels gives `eval_loss`, `eval_sft`, `eval_contrastive`, `eval_accuracy` and `eval_f1`
    (macro, through `evaluate`'s Metric API; pass `compute_metrics` for others); an STS set (`sentence1`,
    `sentence2`, `score`) becomes the `sts-dev` evaluator instead.

    Saving writes the SentenceTransformer (loads with `SentenceTransformer(path)`) and the head in `classifier/`
    (`config.json` with `id2label`, `model.safetensors`); checkpoints also hold the head for resuming.
    """

    method = "sft_contrastive"
    method_name = "SFT+contrastive"
    card_fields = tuple(f.name for f in dataclasses.fields(BatchCompositionSettings))
    loss_class = SFTContrastiveLoss
    default_pooler = "avg"
    prepare_with_user_loss = True  # unlabelled rows and the alternating DatasetDict are this trainer's format
    help = "SFT+contrastive: classification on labelled (and unlabelled) texts, keeping the pretrained space"
    # λ, the trade between the task and keeping the pretrained space, and the head's learning rate (a fresh head wants
    # more than the encoder). Maximising `eval_accuracy` alone favours a small λ: to keep the embeddings' quality,
    # watch a metric that values it too (an STS evaluator's, or a `compute_objective` combining both).
    search_space = {"learning_rate": LEARNING_RATE, "temperature": TEMPERATURE,
                    "contrastive_weight": {"type": "float", "low": 0.1, "high": 10.0, "log": True},
                    "head_learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}
    data_arguments_class = SFTDataArguments
    training_args_class = SFTContrastiveConfig
    data_fields = ("num_labels", "strategy")  # the classes and the labelled/unlabelled layout of the prepared data
    default_metric_hint = "; a labelled `eval_dataset` gives `eval_accuracy`"

    def __init__(self, model: str | SentenceTransformer | None = None, args: SFTContrastiveConfig | None = None,
                 train_dataset: Any = None, unlabelled_dataset: Any = None, compute_metrics: Any = None,
                 **kwargs: Any) -> None:
        if unlabelled_dataset is not None and train_dataset is None:
            raise ValueError("`unlabelled_dataset` is added to the labelled `train_dataset`; pass both.")
        if args is not None and getattr(args, "strategy", None) == "alternating" and unlabelled_dataset is None:
            raise ValueError("`strategy='alternating'` alternates labelled and unlabelled batches: pass an "
                             "`unlabelled_dataset` (or use `strategy='mixing'`).")
        self._unlabelled_dataset = unlabelled_dataset
        self._id2label: dict[int, str] | None = None
        self._text_columns: list[str] | None = None
        self._class_names: list[str] | None = None  # the training set's ClassLabel names, if any
        super().__init__(model=model, args=args, train_dataset=train_dataset, **kwargs)
        # Set after construction: sentence-transformers' trainer warns on `compute_metrics`, as its losses give no
        # predictions; this trainer's `prediction_step` gives the head's logits.
        self.compute_metrics = compute_metrics or classification_metrics

    @classmethod
    def run_datasets(cls, train_dataset: Any, sts_dataset: Any, data: SFTDataArguments, load) -> tuple[Any, Any, dict]:
        """A config file's labelled evaluation set (`eval_file` / `eval_split`) and unlabelled set (`unlabelled_file`
        / `unlabelled_split`) beside the training set, text labels made the training set's class ids. The STS set is
        the evaluation set without a labelled one, else an extra `sts-dev` evaluator."""
        labelled, unlabelled = (load(file, split) if file or split else None
                                for file, split in ((data.eval_file, data.eval_split),
                                                    (data.unlabelled_file, data.unlabelled_split)))
        train_dataset, labelled = sft_datasets(train_dataset, labelled)
        extra = {} if unlabelled is None else {"unlabelled_dataset": unlabelled}
        if labelled is None:  # the STS set is the evaluation set (the trainer makes it the `sts-dev` evaluator)
            return train_dataset, sts_dataset, extra
        if sts_dataset is not None:
            extra["evaluator"] = STSEvaluator.from_dataset(sts_dataset, name="sts-dev")
        return train_dataset, labelled, extra

    def prepare_dataset(self, dataset: Any, args: SFTContrastiveConfig, name: str, model: SentenceTransformer) -> Any:
        """Validate texts and labels; the training set fixes the classes and the text columns (the evaluation set
        must have the same), then gets the unlabelled rows (`with_unlabelled`)."""
        if dataset is None:
            return None
        dataset = sft_columns(dataset, name, text_columns=self._text_columns)
        num_labels = len(self._id2label) if self._id2label is not None else args.num_labels
        id2label = label_names(dataset, num_labels, name)
        names = getattr(dataset.features["label"], "names", None)
        if name != "train_dataset":
            if names is not None and self._class_names is not None and names != self._class_names:
                label2id = {label: i for i, label in enumerate(self._class_names)}
                raise DataError(f"`{name}`'s ClassLabel names {names} differ from the training set's "
                                f"{self._class_names}: an id would mean another class. Remap it by name with "
                                f"`{name}.align_labels_with_mapping({label2id}, 'label')`.")
            return dataset
        self._id2label, self._text_columns = id2label, [c for c in dataset.column_names if c != "label"]
        self._class_names = names
        if self._unlabelled_dataset is not None:
            dataset = with_unlabelled(dataset, self._unlabelled_dataset, args.strategy)
        self.check_batches(dataset, args)
        return dataset

    @staticmethod
    def check_batches(dataset: Any, args: SFTContrastiveConfig) -> None:
        """`check_composition` of the training set's labelled and unlabelled rows against the config's batches; the
        consistency term needs unlabelled rows."""
        num_labelled, num_unlabelled = map(len, labelled_and_unlabelled(dataset))
        if args.consistency != "none" and num_unlabelled == 0:
            raise DataError(f"`consistency={args.consistency!r}` trains on unlabelled rows, but the training data has "
                            "none: pass an `unlabelled_dataset` (or rows with label -1), or set `consistency='none'`.")
        check_composition(num_labelled, num_unlabelled, args.per_device_train_batch_size, args.strategy,
                          args.labelled_per_batch)

    def check_trial_args(self, args: SFTContrastiveConfig) -> None:
        """The base class's checks, and a trial's batches (size, `labelled_per_batch`) against the training set."""
        super().check_trial_args(args)
        self.check_batches(self.train_dataset, args)

    def default_metric(self) -> str | None:
        """`eval_accuracy` of the head on a labelled `eval_dataset` (`compute_metrics`)."""
        return "eval_accuracy" if self.eval_dataset is not None else None

    def get_batch_sampler(self, dataset: Any, batch_size: int, drop_last: bool, valid_label_columns=None,
                          generator=None, seed: int = 0):
        """`mixing` with unlabelled rows or `labelled_per_batch` (`training_mixing_share`): the training batches of
        `MixedBatchSampler`; otherwise (and for evaluation) sentence-transformers' sampler."""
        share = self.training_mixing_share(batch_size) if dataset is self.train_dataset else None
        if share is None:
            return super().get_batch_sampler(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        labelled, unlabelled = labelled_and_unlabelled(dataset)
        return MixedBatchSampler(labelled, unlabelled, batch_size, seed=seed, num_processes=self.args.world_size,
                                 labelled_per_batch=labelled_rows(share, batch_size))

    def training_mixing_share(self, batch_size: int) -> float | None:
        """The labelled rows of each `mixing` training batch (`mixing_share` of the training set); `None` for plain
        shuffled batches, for `alternating` and without a training set."""
        if self.args.strategy != "mixing" or self.train_dataset is None:
            return None
        labelled, unlabelled = labelled_and_unlabelled(self.train_dataset)
        return mixing_share(self.args.labelled_per_batch, len(labelled), len(unlabelled), batch_size)

    def get_multi_dataset_batch_sampler(self, dataset: Any, batch_samplers: list, generator=None, seed: int = 0):
        """`alternating`: the training batches of `AlternatingBatchSampler` (turns of `world_size x
        gradient_accumulation_steps` batches); otherwise (and for evaluation) sentence-transformers' sampler."""
        training = self.args.strategy == "alternating" and len(dataset.datasets) == 2 and all(
            part is whole for part, whole in zip(dataset.datasets, self.train_dataset.values()))
        if not training:
            return super().get_multi_dataset_batch_sampler(dataset, batch_samplers, generator, seed)
        labelled, unlabelled = labelled_and_unlabelled(self.train_dataset)
        return AlternatingBatchSampler(
            labelled, unlabelled, batch_samplers[0].batch_size, seed=seed,
            unlabelled_batches_per_labelled=self.args.unlabelled_batches_per_labelled,
            turn=self.args.world_size * self.args.gradient_accumulation_steps)

    def card_settings(self) -> dict[str, Any]:
        """The batch settings; `labelled_per_batch` unset shows the labelled rows it gave each mixing batch."""
        settings = super().card_settings()
        if self.args.labelled_per_batch is None:
            settings["labelled_per_batch"] = self.training_mixing_share(self.args.per_device_train_batch_size)
        return settings

    def loss_arguments(self, model: SentenceTransformer) -> dict[str, Any]:
        """The head's classes and inputs from the training set; the contrastive rows from the strategy."""
        if self._id2label is None:
            raise ValueError("SFTContrastiveTrainer builds its classification head from the labelled "
                             "`train_dataset`: pass one (or a `loss=SFTContrastiveLoss(model, num_labels=...)`).")
        return {"num_labels": len(self._id2label), "id2label": self._id2label, "num_inputs": len(self._text_columns),
                "contrastive_rows": "unlabelled" if self.args.strategy == "alternating" else "all"}

    def training_step(self, model, inputs, num_items_in_batch=None):
        """The base class's step, the loss told the optimizer step first (the consistency term's warm-up)."""
        if isinstance(self.loss, SFTContrastiveLoss):
            self.loss.set_step(self.state.global_step)
        return super().training_step(model, inputs, num_items_in_batch)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """The Trainer's logs; with the consistency term, a training log also gets `pseudo_label_share`: the share of
        the unlabelled rows since the last log whose weak view was confident enough for a pseudo-label."""
        if "loss" in logs and isinstance(self.loss, SFTContrastiveLoss) and self.loss.consistency != "none":
            share = self.loss.pop_pseudo_label_share()
            if share is not None:
                logs = {**logs, "pseudo_label_share": round(share, 4)}
        super().log(logs, start_time)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Evaluation: the loss terms and the head's logits, for `compute_metrics` (accuracy, F1)."""
        if prediction_loss_only or not isinstance(self.loss, SFTContrastiveLoss):
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)
        inputs = self._prepare_inputs(inputs)
        inputs.pop("dataset_name", None)
        features, labels = self.collect_features(inputs)
        with torch.no_grad():
            terms, logits = self.loss.terms_and_logits(features, labels)
        self.track_loss_components(terms)
        return torch.stack(list(terms.values())).sum().detach(), logits, labels

    def classification_head(self) -> Any:
        """The head trained with the embeddings, saved in `classifier/` (also in releases)."""
        return self.loss.head if isinstance(self.loss, SFTContrastiveLoss) else None


def labelled_and_unlabelled(dataset: Any) -> tuple[list[int], list[int]]:
    """The indices of the labelled and of the unlabelled training rows, as the data loader numbers them: by label
    (`-1`: unlabelled) in one dataset, or the `labelled` then the `unlabelled` set of alternating's `DatasetDict`."""
    if isinstance(dataset, DatasetDict):
        size = len(dataset["labelled"])
        return list(range(size)), list(range(size, size + len(dataset["unlabelled"])))
    unlabelled = np.asarray(arrow_column(dataset, "label")) < 0
    return np.flatnonzero(~unlabelled).tolist(), np.flatnonzero(unlabelled).tolist()
