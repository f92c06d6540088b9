import pytest
import torch
import torch.nn.functional as F
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

from hf_contrastive.data.masking import IGNORE_INDEX
from hf_contrastive.distributed import loss_parameters
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


def without_dropout(model):
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model


def record_masking(loss):
    """The (masked features, labels) of every batch the loss's MLM term masks."""
    masked = []
    original = loss.mlm.mask

    def mask(model, features):
        result = original(model, features)
        masked.append(result)
        return result

    loss.mlm.mask = mask
    return masked


def padded(ids, width, pad=0):
    return torch.nn.functional.pad(ids, (0, width - ids.size(1)), value=pad)


MLM_CASES = {"unsupervised-all": (1, "all"), "unsupervised-first": (1, "first"), "triplets-all": (3, "all"),
             "triplets-first": (3, "first")}


@pytest.mark.parametrize("columns,mlm_columns", MLM_CASES.values(), ids=MLM_CASES.keys())
@pytest.mark.parametrize("mlm_decoder", ["untied", "tied"])
def test_mlm_masks_the_chosen_texts_and_equals_a_naive_cross_entropy(model, sentences, columns, mlm_columns,
                                                                      mlm_decoder):
    without_dropout(model).train()  # the MLM term is a training-time term; no dropout, so naive forwards match
    loss = SimCSELoss(model, do_mlm=True, mlm_weight=0.1, mlm_probability=0.5, mlm_columns=mlm_columns,
                      mlm_decoder=mlm_decoder)
    encoder = model.transformers_model
    if mlm_decoder == "untied":  # a parameter of its own, a copy of the input embeddings: move it away from them
        assert loss.mlm.decoder is not encoder.get_input_embeddings().weight
        assert torch.equal(loss.mlm.decoder, encoder.get_input_embeddings().weight)
        with torch.no_grad():
            loss.mlm.decoder.add_(torch.randn(loss.mlm.decoder.shape, generator=torch.Generator().manual_seed(2)))
    else:
        assert loss.mlm.decoder is None
    batch = [features(model, sentences[8 * i: 8 * i + 8]) for i in range(columns)]
    masked = record_masking(loss)
    out = loss(batch)
    assert set(out) == {"contrastive", "mlm"}

    # Which texts were masked: unsupervised, the text twice (`all`, two independent masks) or once; supervised,
    # every column (`all`) or the first; each row keeps its original ids where nothing was chosen.
    if mlm_columns == "first":
        texts = [batch[0]["input_ids"]]
    elif columns == 1:
        texts = [batch[0]["input_ids"]] * 2
    else:
        texts = [column["input_ids"] for column in batch]
    (masked_features, labels), = masked  # one forward of the texts padded together
    width = masked_features["input_ids"].size(1)
    original = torch.cat([padded(ids, width) for ids in texts])
    assert masked_features["input_ids"].shape == original.shape
    chosen = labels != IGNORE_INDEX
    assert torch.equal(labels[chosen], original[chosen])
    assert torch.equal(masked_features["input_ids"][~chosen], original[~chosen])
    special = torch.tensor(model.tokenizer.all_special_ids)
    assert not (chosen & (torch.isin(original, special) | ~masked_features["attention_mask"].bool())).any()
    if columns == 1 and mlm_columns == "all":
        first, second = chosen.chunk(2)
        assert not torch.equal(first, second), "the two copies are masked independently"

    # The MLM term: one cross-entropy over every masked token, from a plain forward of the masked ids.
    hidden = encoder(input_ids=masked_features["input_ids"],
                     attention_mask=masked_features["attention_mask"]).last_hidden_state
    head = loss.mlm.head
    decoder = encoder.get_input_embeddings().weight if mlm_decoder == "tied" else loss.mlm.decoder
    logits = F.linear(head.layer_norm(F.gelu(head.dense(hidden))), decoder, head.bias)
    expected = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
    assert out["mlm"].item() == pytest.approx(0.1 * expected.item(), rel=1e-5)
    model.eval()
    assert isinstance(loss(batch), torch.Tensor), "no MLM term in eval mode"


def test_untied_decoder_trains_apart_from_the_input_embeddings(model, sentences):
    without_dropout(model).train()
    loss = SimCSELoss(model, do_mlm=True, mlm_probability=0.5)
    assert loss.mlm_decoder == "untied" and loss.mlm_columns == "all", "the original's defaults"
    assert any(p is loss.mlm.decoder for p in loss_parameters(loss, model)), "saved and synchronised as the loss's"
    embeddings = model.transformers_model.get_input_embeddings().weight
    loss([features(model, sentences[:8])])["mlm"].backward()
    assert loss.mlm.decoder.grad is not None and loss.mlm.decoder.grad.abs().sum() > 0
    tied = SimCSELoss(model, do_mlm=True, mlm_probability=0.5, mlm_decoder="tied")
    embeddings.grad = None
    loss.mlm.decoder.grad = None
    torch.manual_seed(0)
    loss([features(model, sentences[:8])])["mlm"].backward()
    input_side_only = embeddings.grad.clone()
    embeddings.grad = None
    tied.mlm.head.load_state_dict(loss.mlm.head.state_dict())
    torch.manual_seed(0)
    tied([features(model, sentences[:8])])["mlm"].backward()
    assert not torch.allclose(embeddings.grad, input_side_only), "tied: the MLM term also trains them as decoder"


def test_config_dict_and_citation(model):
    loss = SimCSELoss(model, temperature=0.07, do_mlm=True)
    assert loss.get_config_dict()["temperature"] == 0.07
    assert loss.get_config_dict()["mlm_weight"] == 0.1
    assert "gao2021simcse" in loss.citation


@pytest.mark.parametrize("kwargs,field", [({"temperature": 0.0}, "temperature"), ({"temperature": -1}, "temperature"),
                                          ({"mlm_weight": -0.1}, "mlm_weight"),
                                          ({"mlm_columns": "second"}, "`mlm_columns` must be one of .* got 'second'"),
                                          ({"mlm_decoder": "shared"}, "`mlm_decoder` must be one of .* got 'shared'"),
                                          ({"gather_gradients": "some"}, "`gather_gradients` must be one of")])
def test_bad_hyperparameters_name_the_field(model, kwargs, field):
    with pytest.raises(ValueError, match=field):
        SimCSELoss(model, **kwargs)
