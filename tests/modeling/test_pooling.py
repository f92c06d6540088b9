import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize

from hf_contrastive.modeling import POOLERS, build_sentence_transformer, resolve_pooler


def simcse_reference(model, texts, pooler):
    """SimCSE's `Pooler` + `MLPLayer` (models.py) computed from the raw BertModel outputs."""
    batch = model.preprocess(texts)
    mask = batch["attention_mask"].unsqueeze(-1).float()
    out = model.transformers_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                   output_hidden_states=True)
    hidden = out.hidden_states

    def masked_mean(states):
        return (states * mask).sum(1) / mask.sum(1)

    if pooler in ("cls", "cls_before_pooler"):
        pooled = out.last_hidden_state[:, 0]
        if pooler == "cls":
            dense = model[2].linear
            pooled = torch.tanh(dense(pooled))
        return pooled
    if pooler == "avg":
        return masked_mean(out.last_hidden_state)
    if pooler == "avg_first_last":
        return masked_mean((hidden[1] + hidden[-1]) / 2.0)
    return masked_mean((hidden[-2] + hidden[-1]) / 2.0)


@pytest.mark.parametrize("pooler", POOLERS)
def test_pooler_matches_simcse_formula_and_survives_reload(tiny_encoder_dir, sentences, pooler, tmp_path):
    model = build_sentence_transformer(tiny_encoder_dir, pooler=pooler)
    model.eval()
    texts = sentences[:6]
    with torch.no_grad():
        expected = simcse_reference(model, texts, pooler)
    got = model.encode(texts, convert_to_tensor=True)
    assert torch.allclose(got, expected, atol=1e-6)

    model.save(str(tmp_path))
    reloaded = SentenceTransformer(str(tmp_path))
    assert torch.equal(reloaded.encode(texts, convert_to_tensor=True), got)


def test_layer_average_weights_are_frozen(tiny_encoder_dir):
    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg_first_last")
    weights = model[1].layer_weights
    assert not weights.requires_grad
    assert weights.tolist() == [1.0, 0.0, 1.0]  # 3 layers: first and last


def test_mean_is_an_alias_of_avg():
    assert resolve_pooler("mean") == "avg"


def test_unknown_pooler_names_the_value(tiny_encoder_dir):
    with pytest.raises(ValueError, match="'first_last'.*cls_before_pooler"):
        build_sentence_transformer(tiny_encoder_dir, pooler="first_last")


def test_sentence_transformer_keeps_or_replaces_its_pooler(tiny_encoder_dir, tmp_path):
    original = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    original.append(Normalize())
    original.save(str(tmp_path))
    kept = build_sentence_transformer(str(tmp_path))
    assert [type(m).__name__ for m in kept] == ["Transformer", "Pooling", "Normalize"]
    replaced = build_sentence_transformer(str(tmp_path), pooler="cls_before_pooler", max_seq_length=12)
    assert [type(m).__name__ for m in replaced] == ["Transformer", "Pooling"]
    assert replaced[1].pooling_mode == "cls"
    assert replaced.max_seq_length == 12
