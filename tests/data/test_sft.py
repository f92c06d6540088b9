import pytest
from datasets import ClassLabel, Dataset, Features, Value

from hf_contrastive import DataError
from hf_contrastive.data.loading import load_text_dataset
from hf_contrastive.data.sft import sft_datasets


def test_text_labels_become_the_training_sets_class_ids_in_both_sets(tmp_path):
    evaluation = tmp_path / "eval.jsonl"
    evaluation.write_text('{"text": "c", "label": "yes"}\n{"text": "d", "label": "no"}\n')
    train = Dataset.from_dict({"text": ["a", "b", "e"], "label": ["yes", "no", "yes"]})
    train, eval_dataset = sft_datasets(train, load_text_dataset(str(evaluation)))
    assert train.features["label"].names == ["no", "yes"] and train["label"] == [1, 0, 1]  # sorted names
    assert eval_dataset.features["label"] == train.features["label"] and eval_dataset["label"] == [1, 0]
    assert sft_datasets(train) == (train, None)


def test_integer_evaluation_labels_of_a_class_label_training_set_are_kept(tmp_path):
    features = Features({"text": Value("string"), "label": ClassLabel(names=["no", "yes"])})
    train = Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]}, features=features)
    evaluation = tmp_path / "eval.jsonl"
    evaluation.write_text('{"text": "c", "label": 1}\n{"text": "d", "label": 0}\n')  # a Hub split's class ids
    _, eval_dataset = sft_datasets(train, load_text_dataset(str(evaluation)))
    assert eval_dataset["label"] == [1, 0]
    evaluation.write_text('{"text": "c", "label": "maybe"}\n')
    with pytest.raises(DataError, match=r"labels \['maybe'\] of the evaluation set do not occur in the training set "
                                        r"\(classes \['no', 'yes'\]\)"):
        sft_datasets(train, load_text_dataset(str(evaluation)))
