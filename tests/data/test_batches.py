"""SFT+contrastive's batch composition: exact shares per batch, the labelled set cycled and reshuffled, an epoch one
pass over the larger set, the same batches for the same seed and epoch, each DDP process its own composition."""

from collections import Counter

import pytest
import torch
from accelerate.data_loader import BatchSamplerShard

from hf_contrastive.data.batches import (DEFAULT_LABELLED_SHARE, AlternatingBatchSampler, BatchCompositionSettings,
                                         MixedBatchSampler, alternating_batches, alternating_epoch_length,
                                         check_composition, labelled_rows, mixed_batches, mixed_epoch_length,
                                         mixing_share)
from hf_contrastive.errors import DataError

LABELLED, UNLABELLED = list(range(7)), list(range(7, 7 + 60))  # 7 labelled rows, 60 unlabelled


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("labelled_per_batch,batch_size", [(1, 4), (2, 8), (3, 8), (7, 10)])
def test_every_mixed_batch_holds_exactly_its_share_and_an_epoch_passes_once_over_the_larger_set(labelled_per_batch,
                                                                                               batch_size):
    length = mixed_epoch_length(len(LABELLED), len(UNLABELLED), labelled_per_batch, batch_size)
    share = batch_size - labelled_per_batch
    assert length == max(-(-7 // labelled_per_batch), -(-60 // share))
    batches = mixed_batches(LABELLED, UNLABELLED, labelled_per_batch=labelled_per_batch, batch_size=batch_size,
                            num_batches=length, generator=generator())
    assert len(batches) == length and all(len(b) == batch_size for b in batches)
    assert all(set(b[:labelled_per_batch]) <= set(LABELLED) and set(b[labelled_per_batch:]) <= set(UNLABELLED)
               for b in batches)
    unlabelled = [i for b in batches for i in b[labelled_per_batch:]]
    assert set(unlabelled[:60]) == set(UNLABELLED)  # one whole pass first (the last batch completed from the next)
    labelled = [i for b in batches for i in b[:labelled_per_batch]]
    passes = [labelled[start:start + 7] for start in range(0, len(labelled) - 6, 7)]
    assert all(sorted(p) == LABELLED for p in passes), "the labelled set is cycled, every row once per pass"
    if len(passes) > 2:
        assert len({tuple(p) for p in passes}) > 1, "reshuffled each pass"
    assert all(len(set(b)) == batch_size for b in batches), "no row twice in a batch"


def test_the_labelled_set_takes_the_epoch_when_it_needs_more_batches():
    assert mixed_epoch_length(100, 10, 2, 4) == 50  # 100 labelled rows, 2 a batch; the 10 unlabelled cycle
    assert mixed_epoch_length(7, 60, 1, 4, rounds_of=3) == 21  # 20 batches, a whole number of rounds of 3


def test_alternating_takes_turns_of_the_given_lengths():
    batches = alternating_batches(LABELLED, UNLABELLED, batch_size=5, unlabelled_batches_per_labelled=3, turn=2,
                                  num_batches=alternating_epoch_length(7, 60, 5, 3, turn=2), generator=generator())
    kinds = "".join("L" if set(b) <= set(LABELLED) else "U" if set(b) <= set(UNLABELLED) else "?" for b in batches)
    assert kinds == "LLUUUUUU" * 2  # 60 unlabelled rows: 12 batches of 5, in 2 cycles of 6
    assert sorted(i for b in batches if b[0] >= 7 for i in b) == UNLABELLED
    assert alternating_epoch_length(7, 60, 5, 1) == 24  # one labelled batch a turn: 12 cycles of 2


def test_same_seed_and_epoch_give_the_same_batches_and_epochs_differ():
    sampler = MixedBatchSampler(LABELLED, UNLABELLED, 8, labelled_per_batch=2, seed=5)
    first = list(sampler)
    assert list(sampler) == first and len(first) == len(sampler) == 10
    sampler.set_epoch(1)
    assert list(sampler) != first
    again = MixedBatchSampler(LABELLED, UNLABELLED, 8, labelled_per_batch=2, seed=5)
    again.set_epoch(1)
    assert list(again) == list(sampler)


@pytest.mark.parametrize("sampler", [
    MixedBatchSampler(LABELLED, UNLABELLED, 8, labelled_per_batch=2, num_processes=2),
    AlternatingBatchSampler(LABELLED, UNLABELLED, 8, unlabelled_batches_per_labelled=2, turn=2),
], ids=["mixing", "alternating"])
def test_each_of_two_processes_gets_its_own_batches_of_the_composition(sampler):
    """accelerate deals the batches to the processes in turn: each gets whole batches of the composition, as many as
    the other, and at each step both hold the same kind (alternating)."""
    shards = [list(BatchSamplerShard(sampler, num_processes=2, process_index=rank, even_batches=False))
              for rank in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == len(sampler) // 2
    kinds = [["L" if set(b) <= set(LABELLED) else "U" if set(b) <= set(UNLABELLED) else "M" for b in shard]
             for shard in shards]
    assert kinds[0] == kinds[1]
    if isinstance(sampler, MixedBatchSampler):
        assert all(sum(i in LABELLED for i in b) == 2 for shard in shards for b in shard)
    else:
        assert "".join(kinds[0]) == "LUU" * (len(sampler) // 6)
    rows = Counter(i for shard in shards for b in shard for i in b if i >= 7)
    assert set(rows) == set(UNLABELLED)


@pytest.mark.parametrize("value,batch_size,rows", [(8, 32, 8), (8.0, 32, 8), (0.25, 32, 8), (0.01, 32, 1), (1, 2, 1)])
def test_labelled_per_batch_is_a_count_or_a_share(value, batch_size, rows):
    assert labelled_rows(value, batch_size) == rows


@pytest.mark.parametrize("value,batch_size,message", [
    (32, 32, "`labelled_per_batch=32` leaves no unlabelled row in a batch of `per_device_train_batch_size=32`"),
    (0.99, 32, "`labelled_per_batch=0.99` leaves no unlabelled row"),
    (2.5, 32, "must be a whole number of rows >= 1 or a share of the batch in (0, 1), got 2.5"),
    (0, 32, "got 0"),
    (-1, 32, "got -1"),
])
def test_bad_labelled_per_batch_names_the_field_and_value(value, batch_size, message):
    with pytest.raises(ValueError) as error:
        labelled_rows(value, batch_size)
    assert message in str(error.value)


@pytest.mark.parametrize("kwargs,message", [
    (dict(strategy="both"), "`strategy` must be one of ('mixing', 'alternating'), got 'both'"),
    (dict(strategy="alternating", labelled_per_batch=4), "`labelled_per_batch=4` sets the batches of "
                                                         "`strategy='mixing'`"),
    (dict(unlabelled_batches_per_labelled=0, strategy="alternating"), "must be >= 1, got 0"),
    (dict(unlabelled_batches_per_labelled=3), "`unlabelled_batches_per_labelled=3` sets the turns of "
                                              "`strategy='alternating'`"),
    (dict(labelled_per_batch=1.5), "got 1.5"),
])
def test_bad_settings_name_the_field_and_value(kwargs, message):
    with pytest.raises(ValueError) as error:
        BatchCompositionSettings(**kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize("counts,strategy,labelled_per_batch,message", [
    ((100, 0), "mixing", 8, "`labelled_per_batch=8` (per_device_train_batch_size=32) asks for 24 unlabelled rows "
                            "per batch, but the training data has none"),
    ((4, 100), "mixing", 8, "takes 8 labelled rows per batch, but the training data has only 4"),
    ((100, 10), "mixing", 0.25, "takes 24 unlabelled rows per batch, but the training data has only 10"),
    ((100, 10), "alternating", None, "`strategy='alternating'` (batches of per_device_train_batch_size=32) takes 32 "
                                     "unlabelled rows per batch, but the training data has only 10"),
])
def test_data_that_cannot_fill_the_batches_is_named(counts, strategy, labelled_per_batch, message):
    with pytest.raises(DataError) as error:
        check_composition(*counts, 32, strategy, labelled_per_batch)
    assert message in str(error.value)


def test_data_that_fills_the_batches_passes():
    check_composition(100, 0, 32, "mixing", None)  # every row labelled: plain shuffled batches
    check_composition(16, 16, 32, "mixing", None)  # unset: half of each batch labelled
    check_composition(6, 100, 32, "mixing", None)  # unset, a set smaller than its half: the other fills the batch
    check_composition(8, 24, 32, "mixing", 8)
    check_composition(3, 32, 32, "alternating", None)  # labelled batches (cross-entropy only) may repeat rows


def test_unset_mixing_takes_half_of_each_batch_as_far_as_the_sets_allow():
    assert DEFAULT_LABELLED_SHARE == 0.5 and mixing_share(None, 100, 100, 32) == 16
    assert mixing_share(None, 6, 100, 32) == 6 and mixing_share(None, 100, 3, 32) == 29  # the smaller set's all
    assert mixing_share(None, 100, 0, 32) is None and mixing_share(None, 0, 100, 32) is None  # one kind only
    assert mixing_share(None, 6, 10, 32) is None  # together smaller than a batch: plain shuffled batches
    assert mixing_share(8, 0, 0, 32) == 8 and mixing_share(0.25, 1, 1, 32) == 0.25  # set: as given (checked apart)
