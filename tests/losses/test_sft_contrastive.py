import math

import pytest
import torch

from hf_contrastive.losses import SFTContrastiveLoss
from hf_contrastive.losses.sft_contrastive import instance_labels
from tests.helpers.references import naive_reference_info_nce, naive_supcon


def features(model, texts):
    return dict(model.preprocess(texts))


def drift(model, scale=0.05, seed=1):
    """Move the model away from its reference copy, as fine-tuning would."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator))


def naive_cross_entropy(logits, labels):
    rows = [(row.tolist(), int(label)) for row, label in zip(logits, labels) if label >= 0]
    return sum(-(row[label] - math.log(sum(math.exp(v) for v in row))) for row, label in rows) / len(rows)


def encode(model, texts):
    with torch.no_grad():
        return model(features(model, texts))["sentence_embedding"]


@pytest.mark.parametrize("negatives", ["fine_tuned", "reference", "both"])
@pytest.mark.parametrize("contrastive_rows", ["all", "unlabelled"])
def test_terms_match_naive_loops(model, sentences, contrastive_rows, negatives):
    loss = SFTContrastiveLoss(model, num_labels=3, contrastive_weight=0.7, reference="copy", classifier_dropout=0.0,
                              contrastive_rows=contrastive_rows, negatives=negatives)
    pretrained = [p.detach().clone() for p in model.parameters()]
    drift(model)
    model.eval()  # no dropout: the naive loops see the same embeddings
    texts, labels = sentences[:6], torch.tensor([0, 2, -1, 1, -1, 0])
    terms = loss([features(model, texts)], labels)
    queries = encode(model, texts)
    with torch.no_grad():
        for parameter, value in zip(loss.reference.copy.parameters(), pretrained):
            assert torch.equal(parameter, value)  # the reference is the model as given, untouched by the drift
        positives = encode(loss.reference.copy, texts)
        logits = loss.head([queries])
    rows = [i for i in range(6) if contrastive_rows == "all" or labels[i] < 0]
    expected = naive_reference_info_nce(queries[rows], positives[rows], negatives, temperature=0.05)
    assert terms["sft"].item() == pytest.approx(naive_cross_entropy(logits, labels), rel=1e-5)
    assert terms["contrastive"].item() == pytest.approx(0.7 * expected, rel=1e-5)
    assert not torch.allclose(queries, positives)


def test_supcon_term_matches_naive_loop_over_both_views(model, sentences):
    loss = SFTContrastiveLoss(model, num_labels=2, contrastive="supcon", reference="copy", classifier_dropout=0.0)
    assert loss.temperature == 0.07
    drift(model)
    model.eval()
    texts, labels = sentences[:5], torch.tensor([0, 1, 0, -1, -1])
    terms = loss([features(model, texts)], labels)
    views = torch.cat([encode(model, texts), encode(loss.reference.copy, texts)])
    classes = [0, 1, 0, 2, 3] * 2  # each unlabelled row is a class of its own: its positive is its reference view
    assert terms["contrastive"].item() == pytest.approx(naive_supcon(views, classes, 0.07, 0.07), rel=1e-5)


@pytest.mark.parametrize("negatives", ["fine_tuned", "reference"])
def test_pair_inputs_classify_u_v_and_difference_and_contrast_every_text(model, sentences, negatives):
    loss = SFTContrastiveLoss(model, num_labels=3, num_inputs=2, reference="copy", classifier_dropout=0.0,
                              negatives=negatives)
    drift(model)
    model.eval()
    first, second, labels = sentences[:4], sentences[4:8], torch.tensor([0, 1, 2, 1])
    terms = loss([features(model, first), features(model, second)], labels)
    u, v = encode(model, first), encode(model, second)
    with torch.no_grad():
        logits = loss.head.linear(torch.cat([u, v, (u - v).abs()], dim=1))
        positives = torch.cat([encode(loss.reference.copy, first), encode(loss.reference.copy, second)])
    assert terms["sft"].item() == pytest.approx(naive_cross_entropy(logits, labels), rel=1e-5)
    expected = naive_reference_info_nce(torch.cat([u, v]), positives, negatives, temperature=0.05)
    assert terms["contrastive"].item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("negatives", ["fine_tuned", "reference", "both"])
def test_gradients_reach_the_model_and_the_head_but_not_the_reference(model, sentences, negatives):
    loss = SFTContrastiveLoss(model, num_labels=2, reference="copy", negatives=negatives)
    terms = loss([features(model, sentences[:6])], torch.tensor([0, 1, 0, 1, -1, -1]))
    sum(terms.values()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in loss.head.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert all(p.grad is None and not p.requires_grad for p in loss.reference.copy.parameters())


def test_a_term_without_rows_is_zero(model, sentences):
    loss = SFTContrastiveLoss(model, num_labels=2, contrastive_rows="unlabelled")
    labelled = loss([features(model, sentences[:4])], torch.tensor([0, 1, 1, 0]))
    unlabelled = loss([features(model, sentences[:4])], None)
    assert labelled["contrastive"].item() == 0 and labelled["sft"].item() > 0
    assert unlabelled["sft"].item() == 0 and unlabelled["contrastive"].item() > 0


def test_lambda_zero_is_plain_cross_entropy_without_a_reference(model, sentences):
    loss = SFTContrastiveLoss(model, num_labels=2, contrastive_weight=0.0)
    assert loss.reference is None
    assert loss([features(model, sentences[:4])], torch.tensor([0, 1, 1, 0]))["contrastive"].item() == 0


def test_reference_copy_is_not_state_and_stays_in_eval_mode(model):
    loss = SFTContrastiveLoss(model, num_labels=2, reference="copy")
    own = sorted(key for key in loss.state_dict() if not key.startswith("model."))
    assert own == ["head.linear.bias", "head.linear.weight"]  # no reference.copy.* tensors
    loss.train()
    assert not loss.reference.copy.training and loss.head.training


def test_instance_labels_give_every_unlabelled_row_its_own_class():
    assert instance_labels(torch.tensor([1, -1, 0, -1])).tolist() == [1, 2, 0, 3]
    assert instance_labels(torch.tensor([-1, -1])).tolist() == [0, 1]


@pytest.mark.parametrize("kwargs,message", [
    (dict(contrastive="triplet"), "`contrastive` must be one of"),
    (dict(negatives="fine-tuned"), "`negatives` must be one of ('fine_tuned', 'reference', 'both'), got 'fine-tuned'"),
    (dict(contrastive_weight=-0.1), "`contrastive_weight` (λ) must be >= 0, got -0.1"),
    (dict(temperature=0.0), "`temperature` must be > 0, got 0.0"),
    (dict(contrastive_rows="some"), "`contrastive_rows` must be one of"),
    (dict(reference="ema"), "`reference` must be one of"),
    (dict(reference="adapters"), "needs a model with LoRA adapters"),
    (dict(contrastive="supcon", num_inputs=2), "`contrastive='supcon'` needs class labels of single texts"),
    (dict(num_labels=1), "`num_labels` must be >= 2, got 1"),
    (dict(classifier_dropout=1.0), "`classifier_dropout` must be in [0, 1), got 1.0"),
])
def test_bad_arguments_name_the_field_and_value(model, kwargs, message):
    with pytest.raises(ValueError) as error:
        SFTContrastiveLoss(model, **{"num_labels": 2, **kwargs})
    assert message in str(error.value)


def test_out_of_range_label_names_the_value(model, sentences):
    loss = SFTContrastiveLoss(model, num_labels=2)
    with pytest.raises(ValueError, match=r"Label 5 is out of range for 2 classes"):
        loss([features(model, sentences[:3])], torch.tensor([0, 5, 1]))


def test_config_dict_names_the_negatives_of_info_nce_only(model):
    assert SFTContrastiveLoss(model, num_labels=2, negatives="both").get_config_dict()["negatives"] == "both"
    assert "negatives" not in SFTContrastiveLoss(model, num_labels=2, contrastive="supcon").get_config_dict()
