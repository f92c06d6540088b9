"""allennlp 1.1's slanted triangular schedule, transcribed, and the learning rates its trainer gives each update:
the reference for the original DeCLUTR's optimization (tests/test_optimization.py, tests/trainers/
test_declutr_trainer.py)."""

from __future__ import annotations

import torch


class AllennlpSlantedTriangular:
    """allennlp v1.1.0 `SlantedTriangular` (`allennlp/training/learning_rate_schedulers/slanted_triangular.py` lines
    53-165) on its `Scheduler` base (`allennlp/training/scheduler.py`: `base_values` are the groups' `initial_lr`),
    transcribed with gradual unfreezing and discriminative fine-tuning off, as DeCLUTR's config leaves them."""

    def __init__(self, optimizer, num_epochs, num_steps_per_epoch=None, cut_frac=0.1, ratio=32, last_epoch=-1):
        self.optimizer = optimizer
        self.num_epochs = num_epochs
        self.num_steps_per_epoch = num_steps_per_epoch
        self.cut_frac = cut_frac
        self.ratio = ratio
        self.freezing_current = False
        self.batch_num_total_epoch_end = []
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_values = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()
        self.last_batch_num_total = -1
        self.step_batch(0)

    def step(self, metric=None):
        self.last_epoch += 1
        if len(self.batch_num_total_epoch_end) == 0:
            self.batch_num_total_epoch_end.append(0)
        else:
            self.batch_num_total_epoch_end.append(self.last_batch_num_total)

    def step_batch(self, batch_num_total=None):
        if batch_num_total is None:
            batch_num_total = self.last_batch_num_total + 1
        self.last_batch_num_total = batch_num_total
        for param_group, learning_rate in zip(self.optimizer.param_groups, self.get_values()):
            param_group["lr"] = learning_rate

    def get_values(self):
        if len(self.batch_num_total_epoch_end) > 1:
            actual_num_steps_per_epoch = int(
                self.batch_num_total_epoch_end[-1] / (len(self.batch_num_total_epoch_end) - 1)
            )
        else:
            actual_num_steps_per_epoch = max(self.num_steps_per_epoch or 1, self.last_batch_num_total)
        frozen_steps = 0  # not gradual_unfreezing
        num_steps = self.num_epochs * actual_num_steps_per_epoch - frozen_steps
        step = min(self.last_batch_num_total - frozen_steps, num_steps)
        cut = int(num_steps * self.cut_frac)
        prop = step / cut if step < cut else 1 - (step - cut) / (num_steps - cut)
        return [lr * (1 + prop * (self.ratio - 1)) / self.ratio for lr in self.base_values]


def optimizer(lr=1.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def allennlp_learning_rates(num_epochs, steps_per_epoch, known_length=True, **kwargs):
    """The learning rate of each update as allennlp 1.1's trainer drives the schedule (`trainer.py` lines 580-640:
    `step_batch(batch_num_total)` before each optimizer step, `step()` at the end of each epoch), from a length the
    data loader gives (`known_length`) or not (a lazy reader: `num_steps_per_epoch=None`)."""
    sgd = optimizer()
    schedule = AllennlpSlantedTriangular(sgd, num_epochs, steps_per_epoch if known_length else None, **kwargs)
    rates, batch_num_total = [], 0
    for _ in range(num_epochs):
        for _ in range(steps_per_epoch):
            batch_num_total += 1
            schedule.step_batch(batch_num_total)
            rates.append(sgd.param_groups[0]["lr"])
        schedule.step()
    return rates
