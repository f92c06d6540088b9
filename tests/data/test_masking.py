import pytest
import torch

from hf_contrastive.data.masking import IGNORE_INDEX, mask_tokens


def _batch(rows=64, length=50, vocab=1000, seed=0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(10, vocab, (rows, length), generator=generator)
    maskable = torch.ones_like(ids, dtype=torch.bool)
    maskable[:, 0] = maskable[:, -1] = False  # specials
    maskable[: rows // 2, -10:] = False  # padding
    return ids, maskable


def test_only_maskable_positions_are_chosen_and_labelled():
    ids, maskable = _batch()
    masked, labels = mask_tokens(ids, maskable, mask_token_id=4, vocab_size=1000, mlm_probability=0.5,
                                 generator=torch.Generator().manual_seed(1))
    chosen = labels != IGNORE_INDEX
    assert not (chosen & ~maskable).any()
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(masked[~chosen], ids[~chosen])


def test_80_10_10_rule():
    ids, maskable = _batch(rows=400, length=100)
    masked, labels = mask_tokens(ids, maskable, mask_token_id=4, vocab_size=1000, mlm_probability=0.15,
                                 generator=torch.Generator().manual_seed(2))
    chosen = labels != IGNORE_INDEX
    share_chosen = chosen.sum().item() / maskable.sum().item()
    assert share_chosen == pytest.approx(0.15, abs=0.01)
    n = chosen.sum().item()
    as_mask = (masked[chosen] == 4).sum().item() / n
    unchanged = (masked[chosen] == ids[chosen]).sum().item() / n
    assert as_mask == pytest.approx(0.8, abs=0.02)
    assert unchanged == pytest.approx(0.1, abs=0.02)  # kept (random draws hit the same id ~0.1% more)
    assert 1 - as_mask - unchanged == pytest.approx(0.1, abs=0.02)


def test_same_generator_seed_same_masks():
    ids, maskable = _batch()
    first = mask_tokens(ids, maskable, mask_token_id=4, vocab_size=1000, generator=torch.Generator().manual_seed(3))
    second = mask_tokens(ids, maskable, mask_token_id=4, vocab_size=1000, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize("probability", [0.0, -0.1, 1.5])
def test_bad_probability_is_rejected(probability):
    ids, maskable = _batch(rows=2, length=5)
    with pytest.raises(ValueError, match="mlm_probability"):
        mask_tokens(ids, maskable, mask_token_id=4, vocab_size=1000, mlm_probability=probability)
