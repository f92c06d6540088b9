import pytest
import torch

from hf_contrastive import EmbeddingClassifier
from hf_contrastive.modeling import build_sentence_transformer
from hf_contrastive.modeling.classifier import ClassificationHead


def test_head_round_trips_with_its_config(tmp_path):
    torch.manual_seed(0)
    head = ClassificationHead(8, 3, num_inputs=2, dropout=0.2, id2label={0: "yes", 1: "no", 2: "maybe"})
    head.save_pretrained(str(tmp_path / "classifier"))
    loaded = ClassificationHead.from_pretrained(str(tmp_path / "classifier"))
    assert loaded.get_config_dict() == head.get_config_dict() and not loaded.training
    for name, value in head.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[name])


def test_classifier_predicts_the_heads_argmax_with_names(tiny_encoder_dir, sentences, tmp_path):
    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    head = ClassificationHead(model.get_embedding_dimension(), 2, id2label={0: "neg", 1: "pos"})
    model.save(str(tmp_path))
    head.save_pretrained(str(tmp_path / "classifier"))
    classifier = EmbeddingClassifier.from_pretrained(str(tmp_path))
    probabilities = classifier.predict_proba(sentences[:5])
    assert probabilities.shape == (5, 2) and torch.allclose(probabilities.sum(dim=1), torch.ones(5))
    with torch.no_grad():
        expected = head.eval()([model.encode(sentences[:5], convert_to_tensor=True)]).argmax(dim=1)
    assert classifier.predict(sentences[:5]) == [["neg", "pos"][i] for i in expected]


def test_a_model_without_a_head_is_a_clear_error(tiny_encoder_dir, tmp_path):
    build_sentence_transformer(tiny_encoder_dir, pooler="avg").save(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="has no classifier/config.json"):
        EmbeddingClassifier.from_pretrained(str(tmp_path))


@pytest.mark.parametrize("kwargs,message", [
    (dict(num_labels=1), "`num_labels` must be >= 2, got 1"),
    (dict(num_inputs=3), "`num_inputs` must be 1 or 2, got 3"),
    (dict(id2label={0: "a", 2: "b"}), "must name the classes 0..1"),
])
def test_head_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError) as error:
        ClassificationHead(**{"embedding_dim": 4, "num_labels": 2, **kwargs})
    assert message in str(error.value)
