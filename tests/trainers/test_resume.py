"""Killed runs resume to the weights of an uninterrupted run, and half-written checkpoints are not resumed from
(issue #8). The runs are killed (SIGKILL) in tests/trainers/kill_worker.py, so only what was on disk survives."""

import json
import logging
import os
import subprocess
import sys

import pytest
import torch
from transformers import TrainerCallback

from tests.helpers.processes import worker_env
from tests.helpers.runs import MAX_STEPS, make_trainer

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kill_worker.py")
KILLED_RUNS = {  # name -> (method, how the run was killed, at which step's checkpoint)
    "simcse": ("simcse", "after_save", 6),
    "declutr": ("declutr", "after_save", 6),
    "sft": ("sft", "after_save", 6),
    "sft-mixing": ("sft-mixing", "after_save", 6),
    "sft-consistency": ("sft-consistency", "after_save", 6),
    "supcon": ("supcon", "after_save", 6),
    "simcse-half-written": ("simcse", "before_state", 6),
    "simcse-after-trainer-state": ("simcse", "after_state", 6),
}


@pytest.fixture(scope="module")
def killed(tiny_encoder_dir, tmp_path_factory) -> dict[str, str]:
    """Every run of KILLED_RUNS, trained in a worker process and SIGKILLed there: name -> its output_dir."""
    if not hasattr(os, "fork"):
        pytest.skip("the worker forks and SIGKILLs its runs (POSIX)")
    root = tmp_path_factory.mktemp("killed")
    runs = [{"method": method, "output_dir": str(root / name), "kill": kill, "step": step}
            for name, (method, kill, step) in KILLED_RUNS.items()]
    proc = subprocess.run([sys.executable, WORKER, tiny_encoder_dir, json.dumps(runs)], env=worker_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ended = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [e["signal"] for e in ended] == [9] * len(runs), (ended, proc.stderr[-3000:])
    return {name: run["output_dir"] for name, run in zip(KILLED_RUNS, runs)}


class CountSteps(TrainerCallback):
    def __init__(self):
        self.steps = []

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(state.global_step)


def resume(method, model_dir, output_dir, checkpoint=True):
    trainer = make_trainer(method, model_dir, output_dir)
    counter = CountSteps()
    trainer.add_callback(counter)
    trainer.train(resume_from_checkpoint=checkpoint)
    return trainer, counter.steps


def assert_same_weights(expected, got):
    """Every tensor of the model and of the loss's own state (MLP, MLM head, classifier head), bit for bit."""
    for part, state in (("model", lambda t: t.model.state_dict()), ("loss", lambda t: t.loss_state_dict())):
        want, have = state(expected), state(got)
        assert want.keys() == have.keys() and (want or part == "loss"), part  # SupCon's loss holds no state
        different = [name for name in want if not torch.equal(want[name].cpu(), have[name].cpu())]
        assert not different, f"{part} tensors differ from the uninterrupted run: {different}"


@pytest.fixture(scope="module")
def uninterrupted(tiny_encoder_dir, tmp_path_factory):
    """The same runs, not interrupted, in this process (computed once per method)."""
    done = {}

    def get(method):
        if method not in done:
            trainer = make_trainer(method, tiny_encoder_dir, str(tmp_path_factory.mktemp(f"full-{method}")))
            trainer.train()
            done[method] = trainer
        return done[method]

    return get


@pytest.mark.parametrize("method", ["simcse", "declutr", "sft", "sft-mixing", "sft-consistency", "supcon"])
def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_run(method, killed, uninterrupted, tiny_encoder_dir):
    """SIGKILL right after checkpoint-6 was saved (mid second epoch); `resume_from_checkpoint=True` in a new process
    runs only steps 7 and 8 and ends with exactly the model and loss-owned weights of the run that was never killed:
    SimCSE's dropout masks and MLP, DeCLUTR's span draws and MLM head, SFT's alternation, mixed batches (the cycled
    labelled set), head and consistency warm-up, SupCon's dropout views all restored."""
    output_dir = killed[method]
    assert sorted(os.listdir(output_dir)) == ["checkpoint-2", "checkpoint-4", "checkpoint-6"]
    resumed, steps = resume(method, tiny_encoder_dir, output_dir)
    assert steps == [7, 8], "resumed from checkpoint-6, not restarted"
    assert resumed.model[0].auto_model.config.hidden_dropout_prob > 0, "dropout on"
    assert resumed.state.global_step == MAX_STEPS
    assert_same_weights(uninterrupted(method), resumed)


def test_a_checkpoint_half_written_by_the_kill_is_skipped(killed, uninterrupted, tiny_encoder_dir, caplog):
    """Killed while saving checkpoint-6, before its trainer_state.json (written last): transformers would resume from
    that highest-numbered folder and fail on the missing state; `resume_from_checkpoint=True` takes checkpoint-4, the
    latest complete one, and still ends with the uninterrupted weights. Naming the half-written one is an error that
    says what happened."""
    output_dir = killed["simcse-half-written"]
    half = os.path.join(output_dir, "checkpoint-6")
    assert os.path.isfile(os.path.join(half, "model.safetensors"))
    assert not os.path.exists(os.path.join(half, "trainer_state.json"))
    with pytest.raises(ValueError, match="checkpoint-6 is an incomplete checkpoint"):
        make_trainer("simcse", tiny_encoder_dir, output_dir).train(resume_from_checkpoint=half)
    with caplog.at_level(logging.WARNING, logger="hf_contrastive"):
        resumed, steps = resume("simcse", tiny_encoder_dir, output_dir)
    assert steps == [5, 6, 7, 8]
    assert f"Resuming from {output_dir}/checkpoint-4: checkpoint-6 in {output_dir} is incomplete" in caplog.text
    assert_same_weights(uninterrupted("simcse"), resumed)


def test_a_checkpoint_with_its_trainer_state_holds_the_loss_state(killed, uninterrupted, tiny_encoder_dir):
    """Killed just after checkpoint-6's trainer_state.json was written: the checkpoint is complete for transformers,
    so it must already hold the loss's own tensors (SimCSE's MLP), or the resumed run would silently restart the MLP
    from its initial values."""
    output_dir = killed["simcse-after-trainer-state"]
    assert os.path.isfile(os.path.join(output_dir, "checkpoint-6", "loss_state.safetensors"))
    resumed, steps = resume("simcse", tiny_encoder_dir, output_dir)
    assert steps == [7, 8]
    assert_same_weights(uninterrupted("simcse"), resumed)


def test_resume_true_without_a_complete_checkpoint_is_an_error(tiny_encoder_dir, tmp_path):
    (tmp_path / "checkpoint-2").mkdir()  # e.g. killed before anything of it was written
    with pytest.raises(ValueError, match="holds no complete checkpoint"):
        make_trainer("simcse", tiny_encoder_dir, str(tmp_path)).train(resume_from_checkpoint=True)
