"""Gradient accumulation: the trainers' losses are means over their micro-batch (`loss_is_scaled_for_ga = False`), so
transformers divides each by `gradient_accumulation_steps` and an accumulated step is the mean of its micro-batches'
gradients, as the Trainer expects of a loss it did not normalise by `num_items_in_batch`."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from transformers import TrainerCallback

from hf_contrastive import TRAINERS, SFTContrastiveConfig, SFTContrastiveTrainer
from tests.helpers.runs import make_trainer


class GradientsBeforeStep(TrainerCallback):
    """The gradient of every trainable parameter (model and loss) at each optimizer step, before the update."""

    def __init__(self):
        self.trainer, self.steps = None, []

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        parameters = {**{f"model.{n}": p for n, p in self.trainer.model.named_parameters()},
                      **{f"loss.{n}": p for n, p in self.trainer.loss.named_parameters() if not n.startswith("model.")}}
        self.steps.append({n: p.grad.detach().clone() for n, p in parameters.items() if p.grad is not None})


def record_gradients(trainer) -> GradientsBeforeStep:
    callback = GradientsBeforeStep()
    callback.trainer = trainer
    trainer.add_callback(callback)
    return callback


def assert_same_gradients(found: dict, expected: dict) -> None:
    assert set(found) == set(expected) and found
    for name, grad in expected.items():
        torch.testing.assert_close(found[name], grad, rtol=1e-5, atol=1e-7, msg=name)


def test_every_trainer_leaves_the_accumulation_scaling_to_the_trainer():
    assert all(trainer.loss_is_scaled_for_ga is False for trainer in TRAINERS.values())


def test_cross_entropy_sft_accumulating_two_half_batches_equals_one_whole_batch(tiny_encoder_dir, sentences, tmp_path,
                                                                               quiet_args):
    """CE-only SFT (no dropout anywhere, so the two runs compute the same function): one step of 2 x 4 rows
    accumulated has the gradients of one step of 8 rows, and logs the same loss."""
    data = Dataset.from_dict({"text": sentences, "label": [i % 3 for i in range(len(sentences))]})
    runs = {}
    for batch, accumulation in ((8, 1), (4, 2)):
        args = SFTContrastiveConfig(output_dir=str(tmp_path / f"ga{accumulation}"), max_steps=1,
                                    per_device_train_batch_size=batch, gradient_accumulation_steps=accumulation,
                                    contrastive_weight=0.0, classifier_dropout=0.0, max_grad_norm=0.0,
                                    learning_rate=1e-3, **quiet_args)
        trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=data)
        for module in trainer.model.modules():  # the tiny BERT's own dropout off: one function in both runs
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        gradients = record_gradients(trainer)
        trainer.train()
        runs[accumulation] = gradients.steps[0], trainer.state.log_history[0]["loss"]
    (whole, whole_loss), (accumulated, accumulated_loss) = runs[1], runs[2]
    assert_same_gradients(accumulated, whole)
    assert accumulated_loss == pytest.approx(whole_loss, rel=1e-5)


@pytest.mark.parametrize("method,options", [("simcse", {}), ("simcse", {"mini_batch_size": 3}), ("declutr", {}),
                                            ("sft-mixing", {}), ("sft-mixing", {"mini_batch_size": 3})],
                         ids=["simcse", "simcse-gradcache", "declutr", "sft-mixing", "sft-mixing-gradcache"])
def test_an_accumulated_step_is_the_mean_of_its_micro_batches_gradients(method, options, tiny_encoder_dir, tmp_path):
    """Every method, dropout and its own terms (MLM, the training-only MLP, the head) included: the gradients of one
    step accumulating two micro-batches are the mean of those of two steps of one micro-batch each (learning rate 0,
    so that the second step sees the same weights; the same seed, so the same batches and dropout masks). SFT mixes
    its batches: alternating's turns last `gradient_accumulation_steps` batches by design, so its batches differ.
    With gradient caching, the cached gradients and the loss's own parameters' are scaled alike."""
    runs = {}
    for accumulation, steps in ((1, 2), (2, 1)):
        trainer = make_trainer(method, tiny_encoder_dir, str(tmp_path / f"{method}-{accumulation}"), max_steps=steps,
                               gradient_accumulation_steps=accumulation, learning_rate=0.0, weight_decay=0.0,
                               max_grad_norm=0.0, save_strategy="no", precision="fp32", warmup_steps=0, **options)
        gradients = record_gradients(trainer)
        trainer.train()
        runs[accumulation] = gradients.steps
    first, second = runs[1]
    mean = {name: (first.get(name, 0) + second.get(name, 0)) / 2 for name in first | second}
    assert_same_gradients(runs[2][0], mean)
