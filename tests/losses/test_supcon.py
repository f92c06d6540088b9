import math

import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset
from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

from hf_contrastive.losses import SupConLoss
from hf_contrastive.losses.functional import supcon
from hf_contrastive.modeling import build_sentence_transformer


def naive_supcon(embeddings, labels, temperature, base_temperature):
    """Khosla et al. eq. 2 anchor by anchor; anchors without a positive are left out of the mean."""
    cos = lambda a, b: float(torch.dot(a, b) / (a.norm() * b.norm()))  # noqa: E731
    terms = []
    for i in range(len(embeddings)):
        positives = [p for p in range(len(embeddings)) if p != i and labels[p] == labels[i]]
        if not positives:
            continue
        denominator = sum(math.exp(cos(embeddings[i], embeddings[a]) / temperature)
                          for a in range(len(embeddings)) if a != i)
        log_probs = [cos(embeddings[i], embeddings[p]) / temperature - math.log(denominator) for p in positives]
        terms.append(-(temperature / base_temperature) * sum(log_probs) / len(positives))
    return sum(terms) / len(terms)


def reference_supcon(features, labels, temperature, base_temperature):
    """The algorithm of HobbitLong/SupContrast losses.py (contrast_mode="all"), on (batch, views, dim) features."""
    batch, views = features.shape[:2]
    features = F.normalize(features, dim=-1)
    mask = torch.eq(labels.view(-1, 1), labels.view(1, -1)).float().repeat(views, views)
    contrast = torch.cat(torch.unbind(features, dim=1), dim=0)
    logits = contrast @ contrast.T / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    logits_mask = 1 - torch.eye(batch * views)
    mask = mask * logits_mask
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    mean_log_prob_pos = (mask * log_prob).sum(1) / mask.sum(1)
    return (-(temperature / base_temperature) * mean_log_prob_pos).mean()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("temperature,base", [(0.07, 0.07), (0.1, 0.07), (0.5, 1.0)])
def test_matches_naive_loop_including_lonely_anchors(dtype, temperature, base):
    generator = torch.Generator().manual_seed(3)
    embeddings = torch.randn(9, 6, generator=generator, dtype=dtype)
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 3, 1, 4])  # classes 2, 3 and 4 have a single member
    got = supcon(embeddings, labels, temperature=temperature, base_temperature=base)
    tolerance = 1e-10 if dtype == torch.float64 else 1e-4
    assert got.item() == pytest.approx(naive_supcon(embeddings, labels, temperature, base), rel=tolerance)


def test_matches_the_reference_implementation_with_two_views():
    generator = torch.Generator().manual_seed(4)
    features = torch.randn(6, 2, 5, generator=generator, dtype=torch.float64)  # (batch, views, dim)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    views = torch.cat(torch.unbind(features, dim=1))
    got = supcon(views, labels.repeat(2), temperature=0.07, base_temperature=0.07)
    assert got.item() == pytest.approx(reference_supcon(features, labels, 0.07, 0.07).item(), rel=1e-10)


def test_no_positive_pair_gives_zero_with_a_gradient():
    embeddings = torch.randn(3, 4, requires_grad=True)
    loss = supcon(embeddings, torch.tensor([0, 1, 2]), temperature=0.07)
    assert loss.item() == 0.0
    loss.backward()
    assert embeddings.grad is not None


@pytest.fixture()
def model(tiny_encoder_dir):
    torch.manual_seed(0)
    return build_sentence_transformer(tiny_encoder_dir, pooler="avg")


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
    expected = supcon(torch.cat(views), labels.repeat(2), temperature=0.1, base_temperature=0.07)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


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
                            ({"num_views": 0}, "`num_views` must be >= 1, got 0")]:
        with pytest.raises(ValueError, match=message):
            SupConLoss(model, **kwargs)
