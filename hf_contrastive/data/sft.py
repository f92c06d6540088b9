"""SFT+contrastive's datasets as the trainer takes them: class ids shared by the training and evaluation sets.

`hf-contrastive train` loads the files or splits of a config (`hf_contrastive.config_file.load_run`) and shapes them
here: text labels of the training set become class ids (`class_encode_column`: the sorted names), the labelled
evaluation set gets the same ids, and with both a labelled evaluation set and an STS set, the STS set becomes an extra
evaluator (without one, the STS set is the evaluation set, which the trainer turns into the `sts-dev` evaluator).
"""

from __future__ import annotations

from typing import Any

from ..errors import DataError

STRING_DTYPES = ("string", "large_string")


def sft_datasets(train_dataset, eval_dataset=None, unlabelled_dataset=None,
                 sts_dataset=None) -> tuple[Any, Any, dict[str, Any]]:
    """`(train_dataset, eval_dataset, extra)`, `extra` the trainer's other keyword arguments (`unlabelled_dataset`,
    `evaluator`)."""
    from ..evaluation.sts import STSEvaluator

    if "label" in train_dataset.column_names and train_dataset.features["label"].dtype in STRING_DTYPES:
        train_dataset = train_dataset.class_encode_column("label")
    extra: dict[str, Any] = {} if unlabelled_dataset is None else {"unlabelled_dataset": unlabelled_dataset}
    if eval_dataset is None:
        return train_dataset, sts_dataset, extra
    if sts_dataset is not None:
        extra["evaluator"] = STSEvaluator.from_dataset(sts_dataset, name="sts-dev")
    return train_dataset, with_training_classes(eval_dataset, train_dataset.features.get("label")), extra


def with_training_classes(eval_dataset, label_feature):
    """The evaluation set with the training set's `ClassLabel` when its labels are the class names as text; class ids
    pass as they are (the trainer checks them)."""
    eval_feature = eval_dataset.features.get("label") if "label" in eval_dataset.column_names else None
    if not getattr(label_feature, "names", None) or getattr(eval_feature, "dtype", None) not in STRING_DTYPES:
        return eval_dataset
    unknown = sorted(set(eval_dataset["label"]) - set(label_feature.names))
    if unknown:
        raise DataError(f"labels {unknown} of the evaluation set do not occur in the training set (classes "
                        f"{label_feature.names}).")
    return eval_dataset.cast_column("label", label_feature)
