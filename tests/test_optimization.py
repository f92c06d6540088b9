"""The original DeCLUTR's optimization: allennlp's slanted triangular schedule and transformers 3.0's AdamW, each
against a transcription of the original code or formula."""

import math

import pytest
import torch

from hf_contrastive.optimization import LegacyAdamW, slanted_triangular, slanted_triangular_schedule
from tests.helpers.allennlp import allennlp_learning_rates, optimizer


@pytest.mark.parametrize("num_epochs,steps_per_epoch", [(1, 20), (1, 7), (3, 11), (2, 100)])
@pytest.mark.parametrize("kwargs", [{}, {"cut_frac": 0.25, "ratio": 8}])
def test_factor_equals_allennlp_with_a_known_length(num_epochs, steps_per_epoch, kwargs):
    expected = allennlp_learning_rates(num_epochs, steps_per_epoch, **kwargs)
    total = num_epochs * steps_per_epoch
    got = [slanted_triangular(k, total, **{"cut_frac": 0.1, "ratio": 32, **kwargs}) for k in range(1, total + 1)]
    assert got == pytest.approx(expected, rel=1e-12)
    assert got[-1] == pytest.approx(1 / kwargs.get("ratio", 32))
    if int(total * kwargs.get("cut_frac", 0.1)) > 0:  # (no warm-up at all below 1 / cut_frac steps)
        assert max(got) == pytest.approx(1.0)


@pytest.mark.parametrize("num_epochs,steps_per_epoch", [(1, 30), (3, 10)])
def test_an_unknown_length_is_the_steps_so_far_during_the_first_epoch(num_epochs, steps_per_epoch):
    """DeCLUTR's lazy reader: allennlp gets no length; one epoch then runs at `lr / ratio` throughout."""
    expected = allennlp_learning_rates(num_epochs, steps_per_epoch, known_length=False)
    got = [slanted_triangular(k, num_epochs * (k if k <= steps_per_epoch else steps_per_epoch), cut_frac=0.1, ratio=32)
           for k in range(1, num_epochs * steps_per_epoch + 1)]
    assert got == pytest.approx(expected, rel=1e-12)
    if num_epochs == 1:
        assert expected == pytest.approx([1 / 32] * steps_per_epoch, rel=1e-12)


@pytest.mark.parametrize("kwargs", [{}, {"cut_frac": 0.3, "ratio": 4}])
def test_schedule_gives_each_update_allennlps_learning_rate(kwargs):
    """Stepped as the Trainer steps it (the optimizer, then the schedule), over two parameter groups."""
    num_epochs, steps_per_epoch = 2, 15
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 2e-5},
              {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 1e-3}]
    sgd = torch.optim.SGD(groups, lr=2e-5)
    schedule = slanted_triangular_schedule(sgd, num_epochs * steps_per_epoch, **kwargs)
    used = []
    for _ in range(num_epochs * steps_per_epoch):
        used.append([group["lr"] for group in sgd.param_groups])
        sgd.step()
        schedule.step()
    expected = allennlp_learning_rates(num_epochs, steps_per_epoch, **kwargs)
    for group, base in enumerate((2e-5, 1e-3)):
        assert [rates[group] for rates in used] == pytest.approx([base * rate for rate in expected], rel=1e-12)
    assert schedule.state_dict()["last_epoch"] == num_epochs * steps_per_epoch, "saved and resumed as the Trainer's"


def naive_adamw(parameter, gradients, learning_rates, *, betas, eps, weight_decay, correct_bias):
    """transformers 3.0 `AdamW.step` for one parameter, element by element in Python floats."""
    values, m, v = [float(x) for x in parameter], [0.0] * len(parameter), [0.0] * len(parameter)
    for t, (gradient, lr) in enumerate(zip(gradients, learning_rates), start=1):
        for i, g in enumerate(float(x) for x in gradient):
            m[i] = betas[0] * m[i] + (1 - betas[0]) * g
            v[i] = betas[1] * v[i] + (1 - betas[1]) * g * g
            step_size = lr * math.sqrt(1 - betas[1] ** t) / (1 - betas[0] ** t) if correct_bias else lr
            values[i] -= step_size * m[i] / (math.sqrt(v[i]) + eps)
            values[i] -= lr * weight_decay * values[i]  # decoupled, on the updated weight
    return values


@pytest.mark.parametrize("correct_bias", [False, True])
def test_legacy_adamw_equals_the_naive_update(correct_bias):
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(5, generator=generator, dtype=torch.float64)
    gradients = [torch.randn(5, generator=generator, dtype=torch.float64) for _ in range(6)]
    learning_rates = [1e-2, 5e-2, 1e-1, 8e-2, 4e-2, 1e-2]  # as a schedule changes them between steps
    decayed, plain = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    adamw = LegacyAdamW([{"params": [decayed], "weight_decay": 0.1}, {"params": [plain], "weight_decay": 0.0}],
                        lr=learning_rates[0], eps=1e-6, correct_bias=correct_bias)
    for gradient, lr in zip(gradients, learning_rates):
        for group in adamw.param_groups:
            group["lr"] = lr
        decayed.grad, plain.grad = gradient.clone(), gradient.clone()
        adamw.step()
    options = {"betas": (0.9, 0.999), "eps": 1e-6, "correct_bias": correct_bias}
    assert decayed.tolist() == pytest.approx(naive_adamw(start, gradients, learning_rates, weight_decay=0.1, **options),
                                             rel=1e-12)
    assert plain.tolist() == pytest.approx(naive_adamw(start, gradients, learning_rates, weight_decay=0.0, **options),
                                           rel=1e-12)


def test_without_bias_correction_the_first_steps_are_larger():
    """A constant gradient: the uncorrected update is `(1 - 0.9^t) / sqrt(1 - 0.999^t)` times the corrected one."""
    steps = {}
    for correct_bias in (True, False):
        parameter = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        adamw = LegacyAdamW([parameter], lr=1.0, eps=0.0, correct_bias=correct_bias)
        moves = []
        for _ in range(12):
            before = parameter.item()
            parameter.grad = torch.ones(1, dtype=torch.float64)
            adamw.step()
            moves.append(before - parameter.item())
        steps[correct_bias] = moves
    ratios = [uncorrected / corrected for uncorrected, corrected in zip(steps[False], steps[True])]
    assert ratios == pytest.approx([(1 - 0.9 ** t) / math.sqrt(1 - 0.999 ** t) for t in range(1, 13)], rel=1e-9)
    assert ratios[0] == pytest.approx(3.162, abs=1e-3) and ratios[-1] == pytest.approx(6.57, abs=1e-2)


@pytest.mark.parametrize("kwargs,message", [
    ({"cut_frac": 1.0}, r"`lr_scheduler_kwargs\['cut_frac'\]` must be in"),
    ({"ratio": 0.5}, r"`lr_scheduler_kwargs\['ratio'\]` must be >= 1, got 0.5"),
])
def test_bad_schedule_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        slanted_triangular_schedule(optimizer(), 10, **kwargs)
