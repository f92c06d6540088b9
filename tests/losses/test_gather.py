"""Negatives gathered across processes: the loss and every gradient of 2 processes (gloo, CPU, launched by torchrun)
equal one process's on the concatenated batch, for every objective — also with gradient caching and LoRA on top."""

import os

import torch

from hf_contrastive.distributed import gather_with_grad
from tests.helpers.gather_losses import build_losses, gradients
from tests.helpers.processes import torchrun


def run_two_processes(model_dir, tmp_path, gather):
    torchrun(os.path.join(os.path.dirname(__file__), "gather_worker.py"), model_dir, str(tmp_path), str(int(gather)))
    return [torch.load(tmp_path / f"gather{int(gather)}-rank{r}.pt", weights_only=False) for r in (0, 1)]


def test_gathered_loss_and_gradients_equal_one_process_on_the_whole_batch(tiny_encoder_dir, tmp_path):
    expected = {}
    for name, (loss, inputs) in build_losses(tiny_encoder_dir, gather=True).items():
        value = loss(*inputs(slice(0, 8)))
        value = value if isinstance(value, torch.Tensor) else sum(value.values())
        value.backward()
        expected[name] = {"loss": value.detach(), "grads": gradients(loss)}
    gathered = run_two_processes(tiny_encoder_dir, tmp_path, gather=True)
    for name, single in expected.items():
        assert len(single["grads"]) > 10, name
        for rank in gathered:
            assert torch.allclose(rank[name]["loss"], single["loss"], atol=1e-6), name
            assert rank[name]["grads"].keys() == single["grads"].keys()
            for key, grad in single["grads"].items():
                assert torch.allclose(rank[name]["grads"][key], grad, atol=1e-6, rtol=1e-4), (name, key)
    local = run_two_processes(tiny_encoder_dir, tmp_path, gather=False)  # the control: fewer negatives differ
    assert not torch.allclose(local[0]["simcse"]["loss"], expected["simcse"]["loss"], atol=1e-4)


def test_gather_is_the_identity_in_one_process():
    tensor = torch.randn(3, 4, requires_grad=True)
    gathered, offset = gather_with_grad(tensor)
    assert gathered is tensor and offset == 0
