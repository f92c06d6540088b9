import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset
from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

from hf_contrastive.losses import SupConLoss
from hf_contrastive.losses.functional import supcon, supcon_anchor_count
from tests.helpers.references import naive_supcon


def reference_supcon(features, labels, temperature=0.07, contrast_mode="all", base_temperature=0.07):
    """HobbitLong/SupContrast `losses.py`, `SupConLoss.forward` (lines 34-106 at 66a8fe5) transcribed line by line
    (labels given, no `mask`): `features` of shape (batch, views, dim), L2-normalised by the caller as the reference's
    training script does (its model ends in `F.normalize`)."""
    device = features.device
    batch_size = features.shape[0]
    labels = labels.contiguous().view(-1, 1)
    mask = torch.eq(labels, labels.T).float().to(device)
    contrast_count = features.shape[1]
    contrast_feature = torch.cat(torch.unbind(features, dim=1), dim=0)
    if contrast_mode == "one":
        anchor_feature = features[:, 0]
        anchor_count = 1
    elif contrast_mode == "all":
        anchor_feature = contrast_feature
        anchor_count = contrast_count
    anchor_dot_contrast = torch.div(torch.matmul(anchor_feature, contrast_feature.T), temperature)
    logits_max, _ = torch.max(anchor_dot_contrast, dim=1, keepdim=True)
    logits = anchor_dot_contrast - logits_max.detach()
    mask = mask.repeat(anchor_count, contrast_count)
    logits_mask = torch.scatter(torch.ones_like(mask), 1,
                                torch.arange(batch_size * anchor_count).view(-1, 1).to(device), 0)
    mask = mask * logits_mask
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    mask_pos_pairs = mask.sum(1)
    mask_pos_pairs = torch.where(mask_pos_pairs < 1e-6, 1, mask_pos_pairs)
    mean_log_prob_pos = (mask * log_prob).sum(1) / mask_pos_pairs
    loss = -(temperature / base_temperature) * mean_log_prob_pos
    return loss.view(anchor_count, batch_size).mean()


def ours(embeddings, labels, temperature=0.07, base_temperature=0.07, **options):
    return supcon(embeddings, labels, temperature=temperature, base_temperature=base_temperature, **options)


@pytest.mark.parametrize("anchors_without_positive", ["exclude", "zero"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("temperature,base", [(0.07, 0.07), (0.1, 0.07), (0.5, 1.0)])
def test_matches_naive_loop_including_lonely_anchors(dtype, temperature, base, anchors_without_positive):
    generator = torch.Generator().manual_seed(3)
    embeddings = torch.randn(9, 6, generator=generator, dtype=dtype)
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 3, 1, 4])  # classes 2, 3 and 4 have a single member
    got = ours(embeddings, labels, temperature, base, anchors_without_positive=anchors_without_positive,
               contrast_mode="all")
    expected = naive_supcon(embeddings, labels, temperature, base, anchors_without_positive)
    assert got.item() == pytest.approx(expected, rel=1e-10 if dtype == torch.float64 else 1e-4)


LABELS = {"every-anchor-with-a-positive": [0, 1, 2, 0, 1, 2], "singletons": [0, 1, 2, 0, 3, 4]}


@pytest.mark.parametrize("labels", LABELS.values(), ids=LABELS.keys())
@pytest.mark.parametrize("views", [1, 2, 3])
@pytest.mark.parametrize("contrast_mode", ["all", "one"])
def test_zero_equals_the_reference_implementation_loss_and_gradients(labels, views, contrast_mode):
    generator = torch.Generator().manual_seed(4)
    features = torch.randn(6, views, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor(labels)
    got = ours(torch.cat(torch.unbind(features, dim=1)), labels.repeat(views), anchors_without_positive="zero",
               contrast_mode=contrast_mode, num_views=views)
    expected = reference_supcon(F.normalize(features, dim=-1), labels, contrast_mode=contrast_mode)
    assert got.item() == pytest.approx(expected.item(), rel=1e-12)
    ours_grad, = torch.autograd.grad(got, features)
    reference_grad, = torch.autograd.grad(expected, features)
    assert torch.allclose(ours_grad, reference_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("contrast_mode", ["all", "one"])
def test_exclude_is_the_reference_times_anchors_over_anchors_with_a_positive(contrast_mode):
    """One view: an anchor alone in its class counts as 0 in the reference's mean and is left out of ours."""
    features = torch.randn(8, 1, 5, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    labels = torch.tensor([0, 1, 0, 2, 1, 3, 0, 4])  # 5 of the 8 anchors have a positive
    got = ours(features[:, 0], labels, anchors_without_positive="exclude", contrast_mode=contrast_mode)
    expected = reference_supcon(F.normalize(features, dim=-1), labels, contrast_mode=contrast_mode)
    assert got.item() == pytest.approx(expected.item() * 8 / 5, rel=1e-12)
    assert supcon_anchor_count(labels, anchors_without_positive="exclude", contrast_mode=contrast_mode) == 5
    assert supcon_anchor_count(labels, anchors_without_positive="zero", contrast_mode=contrast_mode) == 8


def test_anchor_count_with_views():
    labels = torch.tensor([0, 1, 2, 0, 1, 3]).repeat(2)  # two views: every row has a positive, its other view
    assert supcon_anchor_count(labels, anchors_without_positive="exclude", contrast_mode="all", num_views=2) == 12
    assert supcon_anchor_count(labels, anchors_without_positive="exclude", contrast_mode="one", num_views=2) == 6
    one_view = torch.tensor([0, 1, 2, 0, 1, 3])
    assert supcon_anchor_count(one_view, anchors_without_positive="exclude", contrast_mode="all") == 4


def test_no_positive_pair_gives_zero_with_a_gradient():
    embeddings = torch.randn(3, 4, requires_grad=True)
    for option in ("exclude", "zero"):
        loss = ours(embeddings, torch.tensor([0, 1, 2]), anchors_without_positive=option, contrast_mode="all")
        assert loss.item() == 0.0
        loss.backward()
        assert embeddings.grad is not None


@pytest.mark.parametrize("kwargs,message", [
    ({"anchors_without_positive": "drop", "contrast_mode": "all"}, "`anchors_without_positive` must be one of"),
    ({"anchors_without_positive": "zero", "contrast_mode": "first"}, "`contrast_mode` must be one of .* got 'first'"),
])
def test_functional_options_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ours(torch.randn(4, 3), torch.tensor([0, 0, 1, 1]), **kwargs)


def test_views_come_from_one_forward_and_differ_by_dropout(model, sentences):
    loss = SupConLoss(model, num_views=2)
    calls = []
    model[0].register_forward_hook(lambda module, args, output: calls.append(output["token_embeddings"].shape[0]))
    captured = {}
    original = loss.compute_loss_from_embeddings
    loss.compute_loss_from_embeddings = lambda views, labels: captured.setdefault("v", views) and original(views, labels)
    model.train()
    loss([dict(model.preprocess(sentences[:6]))], torch.tensor([0, 0, 1, 1, 2, 2]))
    assert calls == [12]
    first, second = captured["v"]
    assert not torch.allclose(first, second)


def test_equals_functional_supcon_on_the_model_embeddings(model, sentences):
    model.eval()
    columns = [dict(model.preprocess(sentences[:6])), dict(model.preprocess(sentences[6:12]))]
    labels = torch.tensor([0, 0, 1, 1, 2, 0])
    got = SupConLoss(model, temperature=0.1)(columns, labels)
    with torch.no_grad():
        views = [model(dict(c))["sentence_embedding"] for c in columns]
    expected = ours(torch.cat(views), labels.repeat(2), temperature=0.1, anchors_without_positive="exclude",
                    contrast_mode="all")
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("views", [1, 2])
@pytest.mark.parametrize("contrast_mode", ["all", "one"])
def test_loss_options_equal_the_reference_implementation(model, sentences, contrast_mode, views):
    """The text columns are the reference's views; with one view, classes 2 and 3 are anchors without positive."""
    model.eval()
    columns = [dict(model.preprocess(sentences[:6])), dict(model.preprocess(sentences[6:12]))][:views]
    labels = torch.tensor([0, 0, 1, 1, 2, 3])
    loss = SupConLoss(model, temperature=0.1, anchors_without_positive="zero", contrast_mode=contrast_mode)
    got = loss(columns, labels)
    with torch.no_grad():
        features = torch.stack([model(dict(c))["sentence_embedding"] for c in columns], dim=1)
    expected = reference_supcon(F.normalize(features, dim=-1), labels, temperature=0.1, contrast_mode=contrast_mode)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss.get_config_dict()["contrast_mode"] == contrast_mode


def test_trains_in_a_sentence_transformer_trainer(model, sentences, tmp_path, plain_quiet_args):
    data = Dataset.from_dict({"text": sentences, "label": [i % 4 for i in range(len(sentences))]})
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=8,
                                                learning_rate=1e-3, **plain_quiet_args)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if "pooler.dense" not in n}
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data,
                                         loss=SupConLoss(model, num_views=2))
    trainer.train()
    after = dict(model.named_parameters())
    assert all(not torch.equal(p, after[n]) for n, p in before.items())
    assert "khosla2020supervised" in trainer.loss.citation


def test_errors_name_the_problem(model, sentences):
    with pytest.raises(ValueError, match="needs class labels"):
        SupConLoss(model)([dict(model.preprocess(sentences[:4]))], None)
    for kwargs, message in [({"temperature": 0}, "`temperature` must be > 0"),
                            ({"base_temperature": -1}, "`base_temperature` must be > 0, got -1"),
                            ({"num_views": 0}, "`num_views` must be >= 1, got 0"),
                            ({"anchors_without_positive": "skip"}, "`anchors_without_positive` must be .* got 'skip'"),
                            ({"contrast_mode": "both"}, "`contrast_mode` must be one of .* got 'both'"),
                            ({"gather_gradients": "none"}, "`gather_gradients` must be one of .* got 'none'")]:
        with pytest.raises(ValueError, match=message):
            SupConLoss(model, **kwargs)
