import pytest
import torch

from hf_contrastive.losses import DeCLUTRLoss
from tests.helpers.references import naive_nt_xent


def columns(model, sentences, count=3, rows=6):
    return [dict(model.preprocess(sentences[rows * i: rows * i + rows])) for i in range(count)]


def test_matches_naive_nt_xent_with_averaged_positives(model, sentences):
    model.eval()
    features = columns(model, sentences)
    with torch.no_grad():
        anchors, *positives = [model(dict(f))["sentence_embedding"].double() for f in features]
        expected = naive_nt_xent(anchors, (positives[0] + positives[1]) / 2, temperature=0.05)
        got = DeCLUTRLoss(model, temperature=0.05)(features)
    assert isinstance(got, torch.Tensor), "no MLM term outside training"
    assert got.item() == pytest.approx(expected, rel=1e-4)


def test_mlm_and_anchor_embeddings_come_from_one_masked_forward(model, sentences):
    model.train()
    loss = DeCLUTRLoss(model, do_mlm=True, mlm_probability=0.5)
    calls = []
    model[0].register_forward_pre_hook(lambda module, args: calls.append(args[0]["input_ids"].clone()))
    features = columns(model, sentences)
    out = loss(features)
    assert set(out) == {"contrastive", "mlm"}
    assert len(calls) == 2, "one forward for the masked anchors, one merged forward for all positives"
    mask_id = model.tokenizer.mask_token_id
    assert (calls[0] == mask_id).any() and not (features[0]["input_ids"] == mask_id).any()
    assert calls[1].shape[0] == 2 * features[1]["input_ids"].shape[0]
    out["contrastive"].add(out["mlm"]).backward()
    assert loss.mlm.head.dense.weight.grad is not None


def test_needs_positive_columns(model, sentences):
    with pytest.raises(ValueError, match="at least one positive column, got 1"):
        DeCLUTRLoss(model)(columns(model, sentences, count=1))


@pytest.mark.parametrize("kwargs,message", [({"temperature": 0}, "`temperature` must be > 0, got 0"),
                                            ({"mlm_weight": -1}, "`mlm_weight` must be >= 0, got -1"),
                                            ({"mlm_probability": 2.0}, r"`mlm_probability` must be in \(0, 1\]")])
def test_bad_hyperparameters(model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        DeCLUTRLoss(model, **kwargs)
