"""Negatives gathered across processes: the loss and every gradient of 2 processes (gloo, CPU, launched by torchrun)
equal one process's on the concatenated batch — also with gradient caching on top."""

import os
import subprocess
import sys

import pytest
import torch

from hf_contrastive.losses import SFTContrastiveLoss, SimCSELoss
from hf_contrastive.losses.gather import gather_with_grad
from hf_contrastive.modeling import build_sentence_transformer
from tests.conftest import SENTENCES as ALL

SENTENCES = (ALL[:8], ALL[8:16], ALL[16:24])  # anchors, positives, hard negatives


def build_losses(model_dir, gather):
    """SimCSE (triplets, hard-negative weight) and SFT+contrastive, each on its own model, in eval mode (no dropout,
    so the processes and the single process see the same embeddings)."""
    losses = {}
    torch.manual_seed(0)
    simcse_model = build_sentence_transformer(model_dir, pooler="avg").eval()
    simcse = SimCSELoss(simcse_model, hard_negative_weight=0.7, gather_across_devices=gather)
    losses["simcse"] = (simcse, lambda rows: ([dict(simcse_model.preprocess(c[rows])) for c in SENTENCES], None))
    torch.manual_seed(0)
    cached_model = build_sentence_transformer(model_dir, pooler="avg").eval()
    cached = SimCSELoss(cached_model, hard_negative_weight=0.7, gather_across_devices=gather, mini_batch_size=3)
    losses["simcse+gradcache"] = (cached, lambda rows: ([dict(cached_model.preprocess(c[rows])) for c in SENTENCES],
                                                        None))
    torch.manual_seed(0)
    sft_model = build_sentence_transformer(model_dir, pooler="avg")
    sft = SFTContrastiveLoss(sft_model, num_labels=2, reference="copy", classifier_dropout=0.0,
                             gather_across_devices=gather)
    with torch.no_grad():  # drift from the reference, so the InfoNCE term has a gradient
        for parameter in sft_model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(1)))
    sft_model.eval()
    labels = torch.tensor([0, 1, -1, 1, 0, -1, 1, 0])
    losses["sft"] = (sft, lambda rows: ([dict(sft_model.preprocess(SENTENCES[0][rows]))], labels[rows]))
    return losses


def gradients(loss):
    return {n: p.grad.detach().clone() for n, p in loss.named_parameters() if p.grad is not None}


def run_two_processes(model_dir, tmp_path, gather):
    worker = os.path.join(os.path.dirname(__file__), "gather_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(_free_port()), worker, model_dir, str(tmp_path), str(int(gather))]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return [torch.load(tmp_path / f"gather{int(gather)}-rank{r}.pt", weights_only=False) for r in (0, 1)]


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
