"""SFT+contrastive's consistency term on unlabelled rows (FixMatch / UDA): the pure function against a naive loop, the
term inside the loss, its warm-up, its settings and errors."""

import math

import pytest
import torch

from hf_contrastive.losses import ConsistencySettings, SFTContrastiveLoss, pseudo_label_consistency
from hf_contrastive.losses.consistency import consistency_ramp
from hf_contrastive.losses.functional import confident_rows
from hf_contrastive.modeling import build_sentence_transformer

LABELS = torch.tensor([0, 1, -1, 2, -1, -1, 1, -1])


def naive_consistency(strong, weak, threshold, sharpening=None):
    """FixMatch's / UDA's unlabelled loss written out row by row: the mean over every row, 0 where unconfident."""
    total = 0.0
    for s, w in zip(strong.tolist(), weak.tolist()):
        weak_probabilities = [math.exp(x) / sum(math.exp(y) for y in w) for x in w]
        log_strong = [x - math.log(sum(math.exp(y) for y in s)) for x in s]
        if max(weak_probabilities) < threshold:
            continue
        if sharpening is None:
            total -= log_strong[weak_probabilities.index(max(weak_probabilities))]
        else:
            sharpened = [math.exp(x / sharpening) / sum(math.exp(y / sharpening) for y in w) for x in w]
            total -= sum(t * x for t, x in zip(sharpened, log_strong))
    return total / len(strong)


@pytest.mark.parametrize("sharpening", [None, 0.4], ids=["fixmatch", "uda"])
@pytest.mark.parametrize("threshold", [0.0, 0.6, 1.0])
def test_pseudo_label_consistency_equals_a_naive_loop(sharpening, threshold):
    generator = torch.Generator().manual_seed(0)
    strong, weak = torch.randn(12, 4, generator=generator), 2 * torch.randn(12, 4, generator=generator)
    got = pseudo_label_consistency(strong, weak, threshold=threshold, sharpening=sharpening)
    assert got.item() == pytest.approx(naive_consistency(strong, weak, threshold, sharpening), rel=1e-5, abs=1e-7)
    total = pseudo_label_consistency(strong, weak, threshold=threshold, sharpening=sharpening, reduction="sum")
    assert total.item() == pytest.approx(12 * got.item(), rel=1e-5, abs=1e-6)


def test_confident_rows_are_those_whose_weak_view_reaches_the_threshold():
    weak = torch.tensor([[2.0, 0.0], [0.0, 0.1], [-3.0, 3.0]])  # max softmax 0.881, 0.525, 0.998
    assert confident_rows(weak, 0.9).tolist() == [False, False, True]
    assert confident_rows(weak, 0.5).tolist() == [True, True, True]


def test_only_the_strong_view_gets_a_gradient_and_no_rows_give_zero():
    strong, weak = torch.randn(5, 3, requires_grad=True), torch.randn(5, 3, requires_grad=True)
    pseudo_label_consistency(strong, weak, threshold=0.0).backward()
    assert strong.grad is not None and strong.grad.abs().sum() > 0 and weak.grad is None
    empty = torch.zeros(0, 3, requires_grad=True)
    assert pseudo_label_consistency(empty, empty, threshold=0.0).item() == 0.0


def sft_loss(model_dir, **kwargs):
    torch.manual_seed(0)
    model = build_sentence_transformer(model_dir, pooler="avg")
    return SFTContrastiveLoss(model, num_labels=3, classifier_dropout=0.0, **kwargs)


@pytest.mark.parametrize("consistency,sharpening", [("fixmatch", None), ("uda", 0.4)])
def test_the_term_is_the_mean_over_unlabelled_rows_of_the_heads_own_pseudo_labels(tiny_encoder_dir, sentences,
                                                                                 consistency, sharpening):
    """In eval mode (no dropout) both views are the same forward: the term is the naive loop over the head's logits
    of the unlabelled rows, times λ_u; the other terms are unchanged by it."""
    loss = sft_loss(tiny_encoder_dir, consistency=consistency, consistency_weight=0.5, consistency_threshold=0.3)
    loss.model.eval()
    features = [dict(loss.model.preprocess(sentences[:8]))]
    terms = loss(features, LABELS)
    with torch.no_grad():
        logits = loss.head([loss.model(dict(loss.model.preprocess(sentences[:8])))["sentence_embedding"]])
    unlabelled = LABELS < 0
    expected = 0.5 * naive_consistency(logits[unlabelled], logits[unlabelled], 0.3, sharpening)
    assert terms["consistency"].item() == pytest.approx(expected, rel=1e-5)
    plain = sft_loss(tiny_encoder_dir)
    plain.model.eval()
    assert set(plain(features, LABELS)) == {"sft", "contrastive"}
    for name, value in plain([dict(loss.model.preprocess(sentences[:8]))], LABELS).items():
        assert terms[name].item() == pytest.approx(value.item(), rel=1e-6)


def test_in_training_the_weak_view_is_a_second_dropout_forward_without_gradient(tiny_encoder_dir, sentences):
    loss = sft_loss(tiny_encoder_dir, consistency="fixmatch")
    loss.model.train()
    inputs = [dict(loss.model.preprocess(sentences[:8]))]
    rows = LABELS < 0
    first, second = loss.weak_view_logits(inputs, rows), loss.weak_view_logits(inputs, rows)
    assert first.shape == (4, 3) and first.grad_fn is None
    assert not torch.allclose(first, second), "new dropout masks at every forward"


def test_the_warm_up_ramps_the_weight_with_the_step(tiny_encoder_dir, sentences):
    loss = sft_loss(tiny_encoder_dir, consistency="fixmatch", consistency_threshold=0.0, consistency_warmup_steps=4)
    loss.model.eval()
    features = lambda: [dict(loss.model.preprocess(sentences[:8]))]  # noqa: E731
    with pytest.raises(ValueError, match=r"consistency_warmup_steps=4.*set_step"):
        loss(features(), LABELS)
    values = []
    for step in (0, 2, 4, 9):
        loss.set_step(step)
        values.append(loss(features(), LABELS)["consistency"].item())
    assert values[0] == 0.0 and values[1] == pytest.approx(values[2] / 2) and values[2] == pytest.approx(values[3])
    assert [consistency_ramp(s, 4) for s in (0, 1, 4, 5)] == [0.0, 0.25, 1.0, 1.0]


def test_gradient_caching_gives_the_gradients_of_the_uncached_loss(tiny_encoder_dir, sentences):
    def run(mini_batch_size):
        loss = sft_loss(tiny_encoder_dir, consistency="uda", consistency_threshold=0.0,
                        mini_batch_size=mini_batch_size).double()
        loss.model.eval()
        value = loss([dict(loss.model.preprocess(sentences[:8]))], LABELS)
        value = value if isinstance(value, torch.Tensor) else sum(value.values())
        (2 * value).backward()
        return value.detach(), {n: p.grad.clone() for n, p in loss.named_parameters() if p.grad is not None}

    (expected_loss, expected), (cached_loss, cached) = run(None), run(3)
    assert torch.allclose(cached_loss, expected_loss, atol=1e-12) and cached.keys() == expected.keys()
    for name, grad in expected.items():
        assert torch.allclose(cached[name], grad, atol=1e-10, rtol=1e-7), name


def test_off_by_default_and_named_in_the_config_and_citation_when_on(tiny_encoder_dir):
    plain = sft_loss(tiny_encoder_dir)
    assert not any(k.startswith("consistency") for k in plain.get_config_dict())
    assert "sohn2020fixmatch" not in plain.citation
    fixmatch = sft_loss(tiny_encoder_dir, consistency="fixmatch")
    assert {k: v for k, v in fixmatch.get_config_dict().items() if k.startswith("consistency")} == {
        "consistency": "fixmatch", "consistency_weight": 1.0, "consistency_threshold": 0.95,
        "consistency_warmup_steps": 0}
    assert "sohn2020fixmatch" in fixmatch.citation and "oord2018representation" in fixmatch.citation
    uda = sft_loss(tiny_encoder_dir, consistency="uda")
    assert uda.get_config_dict()["consistency_threshold"] == 0.8
    assert uda.get_config_dict()["consistency_sharpening"] == 0.4 and "xie2020unsupervised" in uda.citation


@pytest.mark.parametrize("field,value,message", [
    ("consistency", "mixmatch", r"`consistency` must be one of .*'mixmatch'"),
    ("consistency_weight", -1.0, r"`consistency_weight` must be >= 0, got -1.0"),
    ("consistency_threshold", 1.5, r"`consistency_threshold` must be in \[0, 1\], got 1.5"),
    ("consistency_sharpening", 0.0, r"`consistency_sharpening` must be > 0, got 0.0"),
    ("consistency_warmup_steps", -2, r"`consistency_warmup_steps` must be >= 0, got -2"),
])
def test_bad_settings_name_the_field_and_the_value(tiny_encoder_dir, field, value, message):
    with pytest.raises(ValueError, match=message):
        ConsistencySettings(**{field: value})
    with pytest.raises(ValueError, match=message):
        sft_loss(tiny_encoder_dir, **{field: value})


def test_unlabelled_rows_the_head_cannot_classify_are_an_error(tiny_encoder_dir, sentences):
    torch.manual_seed(0)
    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    loss = SFTContrastiveLoss(model, num_labels=2, num_inputs=2, consistency="fixmatch")
    with pytest.raises(ValueError, match=r"`consistency='fixmatch'` classifies the unlabelled rows.*2"):
        loss([dict(model.preprocess(sentences[:4]))], torch.full((4,), -1))
