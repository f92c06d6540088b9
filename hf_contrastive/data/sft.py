"""Labelled datasets as the trainers take them (SFT+contrastive, SupCon): class ids shared by the training and
evaluation sets.

`hf-contrastive train` loads the files or splits of a config (`hf_contrastive.config_file.load_run`) and the trainer's
`run_datasets` shapes them here: text labels of the training set become class ids (`class_encode_column`: the
sorted names), and a labelled evaluation set gets the same ids.
"""

from __future__ import annotations

from typing import Any

from ..errors import DataError

STRING_DTYPES = ("string", "large_string")


def sft_datasets(train_dataset, eval_dataset=None) -> tuple[Any, Any]:
    """`(train_dataset, eval_dataset)` with the training set's text labels as class ids, shared by the evaluation
    set."""
    if "label" in train_dataset.column_names and train_dataset.features["label"].dtype in STRING_DTYPES:
        train_dataset = train_dataset.class_encode_column("label")
    if eval_dataset is None:
        return train_dataset, None
    return train_dataset, with_training_classes(eval_dataset, train_dataset.features.get("label"))


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
