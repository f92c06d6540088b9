import pytest
import torch
import torch.nn.functional as F
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

from hf_contrastive.data.masking import IGNORE_INDEX, mask_tokens
from hf_contrastive.losses import SimCSELoss, info_nce


def features(model, texts):
    return dict(model.preprocess(texts))


def test_unsupervised_views_differ_in_training_and_match_in_eval(model, sentences):
    loss = SimCSELoss(model)
    seen = []
    model[0].register_forward_hook(lambda module, args, output: seen.append(output["token_embeddings"].shape[0]))
    batch = features(model, sentences[:8])

    model.train()
    captured = {}
    original = loss.compute_loss_from_embeddings
    loss.compute_loss_from_embeddings = lambda e: captured.setdefault("e", e) and original(e)
    loss([batch])
    z1, z2 = captured.pop("e")
    assert seen == [16], "the two views must come from ONE forward pass of 2B rows"
    assert not torch.allclose(z1, z2), "dropout must make the two views differ in training mode"

    model.eval()
    loss([batch])
    z1, z2 = captured.pop("e")
    assert torch.allclose(z1, z2, atol=1e-6)


@pytest.mark.parametrize("columns", [1, 2, 3])
def test_equals_multiple_negatives_ranking_loss(model, sentences, columns):
    model.eval()
    texts = [sentences[8 * i: 8 * i + 8] for i in range(columns)]
    ours = SimCSELoss(model, temperature=0.05)([features(model, t) for t in texts])
    peer_columns = texts if columns > 1 else texts * 2
    peer = MultipleNegativesRankingLoss(model, scale=20.0)([features(model, t) for t in peer_columns], None)
    assert ours.item() == pytest.approx(peer.item(), rel=1e-5)


def test_hard_negative_weight_reaches_the_loss(model, sentences):
    model.eval()
    batch = [features(model, sentences[8 * i: 8 * i + 8]) for i in range(3)]
    loss = SimCSELoss(model, temperature=0.1, hard_negative_weight=0.5)
    embeddings = [model(dict(f))["sentence_embedding"] for f in batch]
    expected = info_nce(*embeddings[:2], embeddings[2:], temperature=0.1, hard_negative_weight=0.5)
    assert loss(batch).item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss(batch).item() != pytest.approx(SimCSELoss(model, temperature=0.1)(batch).item(), rel=1e-5)


def test_mlp_only_train_lives_in_the_loss(model, sentences):
    model.eval()
    loss = SimCSELoss(model, mlp_only_train=True)
    own = [name for name, _ in loss.named_parameters() if not name.startswith("model.")]
    assert own == ["mlp.0.weight", "mlp.0.bias"]
    batch = [features(model, sentences[:8]), features(model, sentences[8:16])]
    embeddings = [model(dict(f))["sentence_embedding"] for f in batch]
    expected = info_nce(*[loss.mlp(e) for e in embeddings], temperature=0.05)
    assert loss(batch).item() == pytest.approx(expected.item(), rel=1e-5)


def test_mlm_component_is_masked_lm_cross_entropy(model, sentences):
    model.train()  # the MLM term is a training-time term; dropout off so the reference forward matches
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    loss = SimCSELoss(model, do_mlm=True, mlm_weight=0.1)
    batch = features(model, sentences[:8])
    torch.manual_seed(5)
    out = loss([batch])
    assert set(out) == {"contrastive", "mlm"}

    tokenizer, encoder = model.tokenizer, model.transformers_model
    special = torch.tensor(tokenizer.all_special_ids)
    maskable = batch["attention_mask"].bool() & ~torch.isin(batch["input_ids"], special)
    torch.manual_seed(5)
    masked, labels = mask_tokens(batch["input_ids"], maskable, mask_token_id=tokenizer.mask_token_id,
                                 vocab_size=encoder.get_input_embeddings().num_embeddings)
    hidden = encoder(input_ids=masked, attention_mask=batch["attention_mask"]).last_hidden_state
    head = loss.mlm.head
    logits = F.linear(head.layer_norm(F.gelu(head.dense(hidden))), encoder.get_input_embeddings().weight, head.bias)
    expected = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
    assert (labels != IGNORE_INDEX).any()
    assert out["mlm"].item() == pytest.approx(0.1 * expected.item(), rel=1e-5)
    assert not torch.isin(masked[~maskable], torch.tensor([tokenizer.mask_token_id])).any()
    model.eval()
    assert isinstance(loss([batch]), torch.Tensor), "no MLM term in eval mode"


def test_config_dict_and_citation(model):
    loss = SimCSELoss(model, temperature=0.07, do_mlm=True)
    assert loss.get_config_dict()["temperature"] == 0.07
    assert loss.get_config_dict()["mlm_weight"] == 0.1
    assert "gao2021simcse" in loss.citation


@pytest.mark.parametrize("kwargs,field", [({"temperature": 0.0}, "temperature"), ({"temperature": -1}, "temperature"),
                                          ({"mlm_weight": -0.1}, "mlm_weight")])
def test_bad_hyperparameters_name_the_field(model, kwargs, field):
    with pytest.raises(ValueError, match=field):
        SimCSELoss(model, **kwargs)
