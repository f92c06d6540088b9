"""SFT+contrastive's batches: labelled and unlabelled rows together by construction (`mixing`: `labelled_per_batch`
labelled rows a batch, half of it by default) or in turn (`alternating`), as pure functions of the row indices and a
seeded generator, and the batch samplers that the Trainer's data loader uses.

Each of the two sets is read as an endless stream of reshuffled passes; an epoch is one pass over the set that needs
more batches to be seen once (normally the large unlabelled one; its last batch is completed from its next pass), the
other set is cycled, reshuffled at each pass. Every batch is full. The generator of an epoch is seeded with
`seed + epoch`, as sentence-transformers' samplers do, so a run resumed from a checkpoint draws the same batches.

Under DDP accelerate deals the batches to the processes in turn (batch `i` to process `i % world_size`): every
process gets batches of the same composition, and an epoch is a whole number of rounds. Alternating turns last
`turn = world_size x gradient_accumulation_steps` batches, so that each optimizer step is all labelled or all
unlabelled on every process, as alternation is meant.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch.utils.data import BatchSampler

from ..errors import DataError
from ..settings import Settings

Strategy = Literal["mixing", "alternating"]
DEFAULT_LABELLED_SHARE = 0.5  # `labelled_per_batch` unset, with unlabelled rows (benchmarks.semi_supervised, README)


@dataclass
class BatchCompositionSettings(Settings):
    """
    How SFT+contrastive's batches hold labelled and unlabelled rows (`SFTContrastiveConfig` fields):

    strategy (`str`, *optional*, defaults to `"mixing"`):
        `mixing`: each batch holds both kinds and trains `CE + λ·contrastive` (the contrastive term over all its
        texts, the cross-entropy over its labelled rows). `alternating`: labelled batches (cross-entropy only) and
        unlabelled batches (λ·contrastive only) in turn; needs an `unlabelled_dataset`.
    labelled_per_batch (`float`, *optional*):
        `mixing`: every batch holds exactly this many labelled rows, the rest of the batch unlabelled: a whole number
        >= 1 is a count, a value in (0, 1) a share of `per_device_train_batch_size` (rounded, at least 1). Each set
        is drawn on its own; the smaller (the labelled one) is cycled, reshuffled each pass. `None`: half of each
        batch (`DEFAULT_LABELLED_SHARE`; more or less where a set has fewer rows than its half) when the training data
        has both kinds; plain shuffled batches when one kind is missing or both together cannot fill a batch
        (`mixing_share`).
    unlabelled_batches_per_labelled (`int`, *optional*, defaults to `1`):
        `alternating`: unlabelled batches after each labelled one.
    """

    strategy: Strategy = field(
        default="mixing", metadata={"help": "Labelled and unlabelled rows in each batch, or in turn."}
    )
    labelled_per_batch: float | None = field(
        default=None,
        metadata={"help": "mixing: labelled rows in every batch, a count (>= 1) or a share of the batch (0 < x < 1); "
                          "the rest unlabelled. None: half the batch when there are unlabelled rows."},
    )
    unlabelled_batches_per_labelled: int = field(
        default=1, metadata={"help": "alternating: unlabelled batches after each labelled batch."}
    )

    def check_fields(self) -> None:
        if self.labelled_per_batch is not None:
            if self.strategy != "mixing":
                raise ValueError(f"`labelled_per_batch={self.labelled_per_batch}` sets the batches of "
                                 f"`strategy='mixing'`; with `strategy={self.strategy!r}` leave it unset.")
            labelled_rows(self.labelled_per_batch, batch_size=None)
        if self.unlabelled_batches_per_labelled < 1:
            raise ValueError("`unlabelled_batches_per_labelled` must be >= 1, got "
                             f"{self.unlabelled_batches_per_labelled}.")
        if self.unlabelled_batches_per_labelled != 1 and self.strategy != "alternating":
            raise ValueError(f"`unlabelled_batches_per_labelled={self.unlabelled_batches_per_labelled}` sets the turns "
                             f"of `strategy='alternating'`; with `strategy={self.strategy!r}` leave it at 1.")


def labelled_rows(labelled_per_batch: float, batch_size: int | None) -> int:
    """`labelled_per_batch` as a number of rows of a batch of `batch_size` (`None`: check the value alone): a whole
    number >= 1 is itself, a share in (0, 1) is that share of the batch, rounded, at least 1.

    >>> labelled_rows(8, 32), labelled_rows(0.25, 32), labelled_rows(0.01, 32)
    (8, 8, 1)
    """
    value = labelled_per_batch
    if not (0 < value < 1 or (value >= 1 and float(value).is_integer())):
        raise ValueError(f"`labelled_per_batch` must be a whole number of rows >= 1 or a share of the batch in "
                         f"(0, 1), got {value}.")
    if batch_size is None:
        return int(value) if value >= 1 else 1
    rows = int(value) if value >= 1 else max(1, round(value * batch_size))
    if rows >= batch_size:
        raise ValueError(f"`labelled_per_batch={value}` leaves no unlabelled row in a batch of "
                         f"`per_device_train_batch_size={batch_size}` ({rows} labelled); it must be smaller than the "
                         "batch (or use `strategy='alternating'`).")
    return rows


def mixing_share(labelled_per_batch: float | None, num_labelled: int, num_unlabelled: int,
                 batch_size: int) -> float | None:
    """The labelled rows of each `mixing` batch: `labelled_per_batch` when set. Unset, `DEFAULT_LABELLED_SHARE` of
    the batch when the training data has both kinds (every batch holds both, as mixing is meant; a set with fewer
    rows than its half gives all of them and the other fills the batch); `None` (plain shuffled batches) when one
    kind is missing or the two sets together cannot fill a batch.

    >>> mixing_share(8, 100, 100, 32), mixing_share(None, 100, 100, 32), mixing_share(None, 6, 100, 32)
    (8, 16, 6)
    >>> mixing_share(None, 100, 3, 32), mixing_share(None, 100, 0, 32), mixing_share(None, 6, 10, 32)
    (29, None, None)
    """
    if labelled_per_batch is not None:
        return labelled_per_batch
    if num_labelled == 0 or num_unlabelled == 0 or num_labelled + num_unlabelled < batch_size:
        return None
    half = max(1, round(DEFAULT_LABELLED_SHARE * batch_size))
    return min(max(half, batch_size - num_unlabelled), num_labelled)


def check_composition(num_labelled: int, num_unlabelled: int, batch_size: int, strategy: str,
                      labelled_per_batch: float | None) -> None:
    """`DataError` naming the setting when the training data cannot fill the batches it asks for: an unlabelled
    share without unlabelled rows, or a set smaller than what one batch takes from it for the contrastive term (a
    batch would hold a text twice, a negative equal to the positive; alternating's labelled batches, cross-entropy
    only, may repeat rows)."""
    share = mixing_share(labelled_per_batch, num_labelled, num_unlabelled, batch_size)
    if strategy == "mixing" and share is None:
        return
    if strategy == "mixing":
        shares = {"labelled": labelled_rows(share, batch_size)}
        shares["unlabelled"] = batch_size - shares["labelled"]
        setting = f"`labelled_per_batch={labelled_per_batch}` (per_device_train_batch_size={batch_size})"
    else:
        shares = {"unlabelled": batch_size}
        setting = f"`strategy='alternating'` (batches of per_device_train_batch_size={batch_size})"
    counts = {"labelled": num_labelled, "unlabelled": num_unlabelled}
    if num_unlabelled == 0:
        raise DataError(f"{setting} asks for {shares['unlabelled']} unlabelled rows per batch, but the training data "
                        "has none: pass an `unlabelled_dataset` (or rows with label -1), or leave "
                        "`labelled_per_batch` unset.")
    for kind, share in shares.items():
        if counts[kind] < share:
            raise DataError(f"{setting} takes {share} {kind} rows per batch, but the training data has only "
                            f"{counts[kind]}: a batch would hold a row twice. Use a smaller share or batch.")


def reshuffled_passes(indices: Sequence[int], generator: torch.Generator) -> Iterator[int]:
    """`indices` in an endless stream of passes, each in a new random order drawn from `generator`."""
    while True:
        for position in torch.randperm(len(indices), generator=generator).tolist():
            yield indices[position]


def take(stream: Iterator[int], count: int) -> list[int]:
    return [next(stream) for _ in range(count)]


def mixed_epoch_length(num_labelled: int, num_unlabelled: int, labelled: int, batch_size: int,
                       rounds_of: int = 1) -> int:
    """Batches of a mixing epoch: one pass over the set that takes more batches, `labelled` rows per batch from the
    labelled set, the rest from the unlabelled one; rounded up to a multiple of `rounds_of` (the processes)."""
    batches = max(math.ceil(num_labelled / labelled), math.ceil(num_unlabelled / (batch_size - labelled)))
    return math.ceil(batches / rounds_of) * rounds_of


def mixed_batches(labelled: Sequence[int], unlabelled: Sequence[int], *, labelled_per_batch: int, batch_size: int,
                  num_batches: int, generator: torch.Generator) -> list[list[int]]:
    """`num_batches` batches of `labelled_per_batch` rows from `labelled` then `batch_size - labelled_per_batch`
    rows from `unlabelled`, each set read in reshuffled passes.

    >>> batches = mixed_batches([0, 1], [2, 3, 4, 5, 6, 7], labelled_per_batch=1, batch_size=4, num_batches=2,
    ...                         generator=torch.Generator().manual_seed(0))
    >>> [sorted(b[:1]) for b in batches], sorted(i for b in batches for i in b[1:])
    ([[0], [1]], [2, 3, 4, 5, 6, 7])
    """
    from_labelled, from_unlabelled = reshuffled_passes(labelled, generator), reshuffled_passes(unlabelled, generator)
    return [take(from_labelled, labelled_per_batch) + take(from_unlabelled, batch_size - labelled_per_batch)
            for _ in range(num_batches)]


def alternating_epoch_length(num_labelled: int, num_unlabelled: int, batch_size: int,
                             unlabelled_batches_per_labelled: int, turn: int = 1) -> int:
    """Batches of an alternating epoch: whole cycles of `turn` labelled batches then
    `turn x unlabelled_batches_per_labelled` unlabelled ones, until one set has had a pass."""
    cycles = max(math.ceil(num_labelled / (turn * batch_size)),
                 math.ceil(num_unlabelled / (turn * unlabelled_batches_per_labelled * batch_size)))
    return cycles * turn * (1 + unlabelled_batches_per_labelled)


def alternating_batches(labelled: Sequence[int], unlabelled: Sequence[int], *, batch_size: int,
                        unlabelled_batches_per_labelled: int, num_batches: int, generator: torch.Generator,
                        turn: int = 1) -> list[list[int]]:
    """`num_batches` batches, `turn` of them from `labelled`, then `turn x unlabelled_batches_per_labelled` from
    `unlabelled`, and so on; each set read in reshuffled passes.

    >>> batches = alternating_batches([0, 1], [2, 3, 4, 5], batch_size=2, unlabelled_batches_per_labelled=2,
    ...                               num_batches=6, generator=torch.Generator().manual_seed(0))
    >>> [("L" if b[0] < 2 else "U") for b in batches]
    ['L', 'U', 'U', 'L', 'U', 'U']
    """
    streams = reshuffled_passes(labelled, generator), reshuffled_passes(unlabelled, generator)
    cycle = turn * (1 + unlabelled_batches_per_labelled)
    return [take(streams[index % cycle >= turn], batch_size) for index in range(num_batches)]


class ComposedBatchSampler(BatchSampler):
    """A batch sampler over a dataset whose labelled rows are `labelled` and unlabelled rows `unlabelled` (indices),
    drawing an epoch's batches with a generator seeded `seed + epoch` (the Trainer calls `set_epoch`)."""

    def __init__(self, labelled: Sequence[int], unlabelled: Sequence[int], batch_size: int, seed: int = 0) -> None:
        super().__init__(range(len(labelled) + len(unlabelled)), batch_size=batch_size, drop_last=False)
        self.labelled, self.unlabelled, self.seed, self.epoch = list(labelled), list(unlabelled), seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self, generator: torch.Generator) -> list[list[int]]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches(torch.Generator().manual_seed(self.seed + self.epoch))


class MixedBatchSampler(ComposedBatchSampler):
    """`mixing` with `labelled_per_batch`: every batch holds exactly `labelled_per_batch` labelled rows
    (`mixed_batches`); an epoch is `mixed_epoch_length` batches, a whole number of rounds of `num_processes`."""

    def __init__(self, labelled: Sequence[int], unlabelled: Sequence[int], batch_size: int, *,
                 labelled_per_batch: int, num_processes: int = 1, seed: int = 0) -> None:
        super().__init__(labelled, unlabelled, batch_size, seed)
        self.labelled_per_batch = labelled_per_batch
        self.length = mixed_epoch_length(len(self.labelled), len(self.unlabelled), labelled_per_batch, batch_size,
                                          num_processes)

    def __len__(self) -> int:
        return self.length

    def batches(self, generator: torch.Generator) -> list[list[int]]:
        return mixed_batches(self.labelled, self.unlabelled, labelled_per_batch=self.labelled_per_batch,
                             batch_size=self.batch_size, num_batches=self.length, generator=generator)


class AlternatingBatchSampler(ComposedBatchSampler):
    """`alternating`: `turn` labelled batches, then `turn x unlabelled_batches_per_labelled` unlabelled ones
    (`alternating_batches`); an epoch is `alternating_epoch_length` batches."""

    def __init__(self, labelled: Sequence[int], unlabelled: Sequence[int], batch_size: int, *,
                 unlabelled_batches_per_labelled: int = 1, turn: int = 1, seed: int = 0) -> None:
        super().__init__(labelled, unlabelled, batch_size, seed)
        self.unlabelled_batches_per_labelled, self.turn = unlabelled_batches_per_labelled, turn
        self.length = alternating_epoch_length(len(self.labelled), len(self.unlabelled), batch_size,
                                               unlabelled_batches_per_labelled, turn)

    def __len__(self) -> int:
        return self.length

    def batches(self, generator: torch.Generator) -> list[list[int]]:
        return alternating_batches(self.labelled, self.unlabelled, batch_size=self.batch_size,
                                   unlabelled_batches_per_labelled=self.unlabelled_batches_per_labelled,
                                   num_batches=self.length, generator=generator, turn=self.turn)
