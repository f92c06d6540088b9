import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Value
from sentence_transformers import SentenceTransformer

from hf_contrastive import DataError, SupConConfig, SupConLoss, SupConTrainer
from hf_contrastive.tuning import check_search_space, default_search_space
from tests.helpers.references import naive_supcon
from tests.helpers.training import assert_all_changed, sts_dev, trainable


@pytest.fixture()
def labelled(sentences):
    return Dataset.from_dict({"text": sentences, "label": [i % 3 for i in range(len(sentences))]})


def make_args(tmp_path, quiet_args, **kwargs):
    return SupConConfig(**(dict(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, learning_rate=1e-3)
                           | quiet_args | kwargs))


def test_trains_every_parameter_with_the_config_settings_and_reloads(tiny_encoder_dir, labelled, sentences, tmp_path,
                                                                      quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=3, temperature=0.1, contrast_mode="one", eval_strategy="steps",
                     eval_steps=3)
    trainer = SupConTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled,
                            eval_dataset=sts_dev(sentences))
    assert isinstance(trainer.loss, SupConLoss) and trainer.model[1].pooling_mode == "mean"
    assert (trainer.loss.num_views, trainer.loss.temperature, trainer.loss.contrast_mode) == (2, 0.1, "one")
    before = trainable(trainer)
    trainer.train()
    assert_all_changed(before, trainer)
    assert any("eval_sts-dev_spearman_cosine" in h for h in trainer.state.log_history)
    assert {"hf-contrastive", "supcon"} <= set(trainer.model.model_card_data.tags)
    trainer.save_model(args.output_dir)
    card = open(f"{args.output_dir}/README.md", encoding="utf-8").read()
    assert "SupCon" in card and "2004.11362" in card and "khosla2020supervised" in card
    trainer.model.eval()
    assert torch.equal(SentenceTransformer(args.output_dir).encode(sentences[:3], convert_to_tensor=True),
                       trainer.model.encode(sentences[:3], convert_to_tensor=True))


def test_the_loss_of_a_batch_is_supcon_of_its_rows(tiny_encoder_dir, labelled, tmp_path, quiet_args):
    """One view, dropout off: the trainer's loss on the first batch is SupCon over those rows' embeddings."""
    args = make_args(tmp_path, quiet_args, num_views=1, anchors_without_positive="zero")
    trainer = SupConTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled)
    trainer.model.eval()
    rows = labelled.select(range(8))
    features = trainer.model.tokenize(rows["text"])
    with torch.no_grad():
        loss = trainer.loss([features], torch.tensor(rows["label"]))
        embeddings = torch.nn.functional.normalize(trainer.model.encode(rows["text"], convert_to_tensor=True), dim=-1)
    expected = naive_supcon(embeddings, rows["label"], 0.07, 0.07, anchors_without_positive="zero")
    assert loss.item() == pytest.approx(expected, rel=1e-4)


def test_every_text_column_is_a_view_and_label_comes_last(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    features = Features({"label": ClassLabel(names=["a", "b"]), "text": Value("string"),
                         "paraphrase": Value("string")})
    data = Dataset.from_dict({"label": [i % 2 for i in range(len(sentences))], "text": sentences,
                              "paraphrase": sentences[::-1]}, features=features)
    trainer = SupConTrainer(model=tiny_encoder_dir, args=make_args(tmp_path, quiet_args), train_dataset=data)
    assert trainer.train_dataset.column_names == ["text", "paraphrase", "label"]


@pytest.mark.parametrize("data,message", [
    ({"text": ["a", "b"]}, "SupCon needs a 'label' column of class ids; `train_dataset` has columns ['text']"),
    ({"label": [0, 1]}, "at least one text column besides 'label'"),
    ({"text": ["a", "b"], "label": ["x", "y"]}, "column 'label' holds strings; SupCon needs class ids (row 0: 'x')"),
    ({"text": ["a", "b"], "label": [0, None]}, "`train_dataset` row 1: 'label' is missing (None)."),
    ({"text": ["a", "b"], "label": [0.5, 1.0]}, "must hold integer class ids"),
    ({"text": ["a", ""], "label": [0, 1]}, "row 1"),
])
def test_bad_data_names_the_column_row_and_value(tiny_encoder_dir, tmp_path, quiet_args, data, message):
    with pytest.raises(DataError) as error:
        SupConTrainer(model=tiny_encoder_dir, args=make_args(tmp_path, quiet_args),
                      train_dataset=Dataset.from_dict(data))
    assert message in str(error.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("field,value,message", [
    ("num_views", 0, "`num_views` must be >= 1, got 0"),
    ("contrast_mode", "first", "contrast_mode"),
    ("temperature", 0.0, "temperature"),
    ("per_device_train_batch_size", 1, "`per_device_train_batch_size` must be >= 2, got 1"),
])
def test_bad_settings_name_the_field_and_value(tmp_path, quiet_args, field, value, message):
    with pytest.raises(ValueError) as error:
        make_args(tmp_path, quiet_args, **{field: value})
    assert message in str(error.value)


def test_the_default_search_space_is_valid():
    assert check_search_space(default_search_space(SupConTrainer), SupConTrainer) == SupConTrainer.search_space
