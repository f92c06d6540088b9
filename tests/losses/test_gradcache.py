"""GradCache in SimCSELoss: the cached loss and gradients equal the uncached ones, with dropout replayed."""

import pytest
import torch
from datasets import Dataset
from sentence_transformers.base.losses.merged_forward import column_merging_disabled

from hf_contrastive import SimCSEConfig, SimCSETrainer
from hf_contrastive.losses import SimCSELoss
from hf_contrastive.modeling import build_sentence_transformer


def close(got, expected):
    """Equal up to float64 round-off (the models run in float64: near-degenerate batches of a random tiny model
    have gradients too small for float32 sums in another order to agree)."""
    return torch.allclose(got, expected, rtol=1e-7, atol=1e-7 * float(expected.abs().max()) + 1e-12)


def loss_and_grads(model_dir, texts, mini_batch_size, train, seed=3, **kwargs):
    torch.manual_seed(0)
    model = build_sentence_transformer(model_dir, pooler="cls")
    model.train(train)
    loss = SimCSELoss(model, mlp_only_train=True, mini_batch_size=mini_batch_size, **kwargs).double()
    columns = [dict(model.preprocess(column)) for column in texts]
    torch.manual_seed(seed)  # the same dropout draws, in the same order (column by column)
    with column_merging_disabled():  # uncached: one forward per column, as the cached mini-batches go
        value = loss(columns)
    (3 * value).backward()  # an incoming gradient != 1 (as accumulation or fp16 scaling give) reaches the MLP too
    return value.detach(), {n: p.grad.clone() for n, p in loss.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("train", [False, True], ids=["eval", "dropout"])
@pytest.mark.parametrize("columns", [1, 3], ids=["unsupervised", "triplets"])
def test_cached_gradients_equal_uncached(tiny_encoder_dir, sentences, train, columns):
    texts = [sentences[:8]] if columns == 1 else [sentences[:8], sentences[8:16], sentences[16:24]]
    # one mini-batch per column draws dropout exactly as the uncached per-column forward does
    expected_loss, expected = loss_and_grads(tiny_encoder_dir, texts, None, train, hard_negative_weight=0.5)
    cached_loss, cached = loss_and_grads(tiny_encoder_dir, texts, 8, train, hard_negative_weight=0.5)
    assert torch.allclose(cached_loss, expected_loss, atol=1e-12)
    assert cached.keys() == expected.keys() and len(cached) > 10
    for name, grad in expected.items():
        assert close(cached[name], grad), name


def test_small_mini_batches_give_the_same_gradients_without_dropout(tiny_encoder_dir, sentences):
    texts = [sentences[:8], sentences[8:16]]
    expected_loss, expected = loss_and_grads(tiny_encoder_dir, texts, None, train=False)
    cached_loss, cached = loss_and_grads(tiny_encoder_dir, texts, 3, train=False)  # 3 + 3 + 2 rows
    assert torch.allclose(cached_loss, expected_loss, atol=1e-12)
    for name, grad in expected.items():
        assert close(cached[name], grad), name


def test_trainer_with_gradient_caching_trains(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = SimCSEConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=16, mini_batch_size=4,
                        learning_rate=1e-2, pooler="cls", **quiet_args)
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    after = dict(trainer.model.named_parameters())
    assert all(not torch.equal(p, after[n]) for n, p in before.items() if "pooler.dense" not in n)


@pytest.mark.parametrize("kwargs,message", [
    (dict(mini_batch_size=0), "`mini_batch_size` must be >= 1, got 0"),
    (dict(mini_batch_size=4, do_mlm=True), "does not combine with `do_mlm`"),
])
def test_bad_cache_settings_are_named(tmp_path, kwargs, message):
    with pytest.raises(ValueError) as error:
        SimCSEConfig(output_dir=str(tmp_path), **kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize("train", [False, True], ids=["eval", "dropout"])
def test_supcon_cached_gradients_equal_uncached(tiny_encoder_dir, sentences, train):
    from hf_contrastive.losses import SupConLoss

    def run(mini_batch_size):
        torch.manual_seed(0)
        model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
        model.train(train)
        loss = SupConLoss(model, num_views=2, mini_batch_size=mini_batch_size).double()
        features = [dict(model.preprocess(sentences[:10]))]
        torch.manual_seed(3)
        with column_merging_disabled():
            value = loss(features, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 3]))
        value.backward()
        return value.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    (expected_loss, expected), (cached_loss, cached) = run(None), run(10)
    assert torch.allclose(cached_loss, expected_loss, atol=1e-12) and len(cached) > 10
    for name, grad in expected.items():
        assert close(cached[name], grad), name


@pytest.mark.parametrize("negatives", ["fine_tuned", "reference", "both"])
@pytest.mark.parametrize("train", [False, True], ids=["eval", "dropout"])
def test_sft_contrastive_cached_gradients_equal_uncached(tiny_encoder_dir, sentences, train, negatives):
    from hf_contrastive.losses import SFTContrastiveLoss

    def run(mini_batch_size):
        torch.manual_seed(0)
        model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
        loss = SFTContrastiveLoss(model, num_labels=3, reference="copy", negatives=negatives,
                                  mini_batch_size=mini_batch_size).double()
        with torch.no_grad():  # drift from the reference
            for parameter in model.parameters():
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(1)))
        model.train(train)
        loss.head.train(train)
        torch.manual_seed(3)
        value = loss([dict(model.preprocess(sentences[:10]))], torch.tensor([0, 1, 2, -1, 1, 2, 0, -1, 2, 1]))
        value = value if isinstance(value, torch.Tensor) else sum(value.values())
        (3 * value).backward()  # an incoming gradient != 1 must scale the head's gradient too
        return value.detach(), {n: p.grad.clone() for n, p in loss.named_parameters() if p.grad is not None}

    (expected_loss, expected), (cached_loss, cached) = run(None), run(10)
    assert torch.allclose(cached_loss, expected_loss, atol=1e-12)
    assert cached.keys() == expected.keys() and {"head.linear.weight", "head.linear.bias"} <= set(cached)
    for name, grad in expected.items():
        assert close(cached[name], grad), name
    if not train:  # several mini-batches: equal without dropout
        _, small = run(4)
        for name, grad in expected.items():
            assert close(small[name], grad), name


def test_sft_trainer_with_gradient_caching_trains(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    from hf_contrastive import SFTContrastiveConfig, SFTContrastiveTrainer

    data = Dataset.from_dict({"text": sentences, "label": [i % 2 for i in range(len(sentences))]})
    args = SFTContrastiveConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=16,
                                mini_batch_size=4, learning_rate=1e-2, **quiet_args)
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=data)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    after = dict(trainer.model.named_parameters())
    assert all(not torch.equal(p, after[n]) for n, p in before.items() if "pooler.dense" not in n)


@pytest.mark.parametrize("loss_class", ["simcse", "supcon"])
def test_mixed_precision_replays_under_the_forward_autocast(tiny_encoder_dir, sentences, loss_class):
    """The cached mini-batches are replayed inside backward(), outside the forward's `torch.autocast`: they must run
    under it again (else the gradients go through an fp32 graph that did not make the cached bf16 embeddings)."""
    from hf_contrastive.losses import SupConLoss

    def run(mini_batch_size):
        torch.manual_seed(0)
        model = build_sentence_transformer(tiny_encoder_dir, pooler="avg").eval()
        seen = []
        model[0].register_forward_hook(lambda *_: seen.append(torch.is_autocast_enabled("cpu")))
        if loss_class == "simcse":
            loss = SimCSELoss(model, mini_batch_size=mini_batch_size)
            inputs = ([dict(model.preprocess(sentences[:8])), dict(model.preprocess(sentences[8:16]))], None)
        else:
            loss = SupConLoss(model, mini_batch_size=mini_batch_size)
            inputs = ([dict(model.preprocess(sentences[:8]))], torch.tensor([0, 1, 2, 3] * 2))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            value = loss(*inputs)
        value.backward()
        return seen, {n: p.grad for n, p in model.named_parameters() if p.grad is not None}

    seen, cached = run(3)
    assert len(seen) > 3 and all(seen), seen  # first passes and replays alike
    _, expected = run(None)
    for name, grad in expected.items():  # bf16 round-off of other batch shapes, not an fp32 graph's difference
        assert (cached[name] - grad).norm() <= 0.03 * grad.norm() + 1e-6, name
