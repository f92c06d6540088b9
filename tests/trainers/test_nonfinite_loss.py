"""A non-finite loss stops training with the step (issue #8): the bad step changes no weight, the last checkpoint
stays as saved, and under DDP every process stops, not only the one whose loss is non-finite."""

import os
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from hf_contrastive.errors import NonFiniteLossError
from tests.helpers.processes import torchrun
from tests.helpers.runs import make_trainer, poison


class Snapshots(TrainerCallback):
    """The trainable weights after each optimizer step, and the bytes of each checkpoint once saved."""

    def __init__(self, trainer):
        self.trainer, self.weights, self.saved = trainer, {}, {}

    def on_step_end(self, args, state, control, **kwargs):
        params = [*self.trainer.model.named_parameters(), *self.trainer.loss.named_parameters()]
        self.weights[state.global_step] = {n: p.detach().clone() for n, p in params}

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        self.saved[folder] = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", ["nan-term", "inf-loss", "accumulation"])
def test_a_nonfinite_loss_stops_training_at_its_step(case, tiny_encoder_dir, tmp_path):
    """NaN (in the MLM term of a dict loss) or inf (a plain loss) at optimizer step 3, also when step 3 is the 5th
    micro-batch under gradient accumulation: `NonFiniteLossError` names step 3, the value, each term and what to try;
    the weights are those after step 2 (the bad step updated nothing) and checkpoint-2 is byte for byte as saved."""
    accumulation = 2 if case == "accumulation" else 1
    trainer = make_trainer("simcse", tiny_encoder_dir, str(tmp_path), max_steps=4, do_mlm=case == "nan-term",
                           gradient_accumulation_steps=accumulation, per_device_train_batch_size=8 // accumulation)
    poison(trainer.loss, at_call=2 * accumulation + 1, value=float("inf") if case == "inf-loss" else float("nan"))
    snapshots = Snapshots(trainer)
    trainer.add_callback(snapshots)
    with pytest.raises(NonFiniteLossError) as raised:
        trainer.train()
    message = str(raised.value)
    assert isinstance(raised.value, FloatingPointError)
    assert "learning rate (now 0.001)" in message and "bf16 instead of fp16" in message
    assert "`stop_on_nonfinite_loss=False`" in message and str(tmp_path) in message
    assert f"The training loss is {'inf' if case == 'inf-loss' else 'nan'} at step 3" in message
    if case == "nan-term":
        assert "(terms: contrastive=" in message and "mlm=nan)" in message
    else:
        assert "terms" not in message
    assert trainer.state.global_step == 2
    after = {n: p.detach() for n, p in [*trainer.model.named_parameters(), *trainer.loss.named_parameters()]}
    assert all(torch.equal(after[n], w) for n, w in snapshots.weights[2].items()), "the bad step changed weights"
    assert all(torch.isfinite(w).all() for w in after.values())
    assert sorted(os.listdir(tmp_path)) == ["checkpoint-2"]
    [(folder, saved)] = snapshots.saved.items()
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == saved


def test_the_check_can_be_switched_off(tiny_encoder_dir, tmp_path):
    trainer = make_trainer("simcse", tiny_encoder_dir, str(tmp_path), max_steps=4, save_strategy="no",
                           stop_on_nonfinite_loss=False)
    poison(trainer.loss, at_call=3, value=float("nan"))
    trainer.train()
    assert trainer.state.global_step == 4


def test_fp16_loss_scaling_overflow_is_not_a_nonfinite_loss(tiny_encoder_dir, tmp_path):
    """Under fp16 a GradScaler multiplies the loss before backward; when the scaled loss or the gradients overflow,
    the scaler skips that optimizer step and lowers its scale, which is normal. The check reads the loss before
    scaling, so that does not stop training: with a scale of 3e38 the scaled loss is inf and every gradient is
    non-finite, and the step still returns its finite loss without an error. (No GPU here: the scaler is set by
    hand on the CPU accelerator.)"""
    trainer = make_trainer("simcse", tiny_encoder_dir, str(tmp_path), max_steps=1, save_strategy="no")
    trainer.accelerator.scaler = torch.amp.GradScaler("cpu", init_scale=3e38)
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop
    loss = trainer.training_step(trainer.model, next(iter(trainer.get_train_dataloader())))
    assert torch.isfinite(loss) and torch.isinf(loss * 3e38)
    grads = [p.grad for p in [*trainer.model.parameters(), *trainer.loss_parameters()] if p.grad is not None]
    assert grads and all(not torch.isfinite(g).all() for g in grads)


def test_under_ddp_every_process_stops_when_one_loss_is_nonfinite(tiny_encoder_dir, tmp_path):
    """torchrun, 2 CPU processes: the loss is NaN on process 1 only; both processes raise at step 3 (their losses are
    compared), naming process 1, instead of process 0 training on into a collective that never completes."""
    torchrun(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddp_nonfinite_worker.py"), tiny_encoder_dir,
             str(tmp_path))
    for rank in (0, 1):
        ended = (tmp_path / f"rank{rank}.txt").read_text()
        assert ended.startswith("NonFiniteLossError at global_step 2 (world size 2): The training loss is"), ended
        assert "at step 3 on process 1 (losses by process: " in ended and f"this is process {rank})" in ended
