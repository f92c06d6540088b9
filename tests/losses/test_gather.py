"""Negatives gathered across processes: the loss and every gradient of 2 processes (gloo, CPU, launched by torchrun)
equal one process's on the concatenated batch, for every objective — also with gradient caching and LoRA on top."""

import os
import subprocess
import sys

import pytest
import torch

from hf_contrastive.losses import DeCLUTRLoss, SFTContrastiveLoss, SimCSELoss, SupConLoss
from hf_contrastive.distributed import gather_with_grad
from hf_contrastive.modeling import build_sentence_transformer
from tests.conftest import SENTENCES as ALL

SENTENCES = (ALL[:8], ALL[8:16], ALL[16:24])  # anchors, positives, hard negatives


def _model(model_dir, *, lora=False):
    torch.manual_seed(0)
    model = build_sentence_transformer(model_dir, pooler="avg")
    if lora:  # random A and B, so that every adapter weight has a gradient
        import peft

        model.add_adapter(peft.LoraConfig(task_type=peft.TaskType.FEATURE_EXTRACTION, r=4, lora_alpha=8,
                                          target_modules=["query", "value"], init_lora_weights=False))
    return model


def _drifted(model):
    """The model moved away from its frozen reference, so that SFT's contrastive term has a gradient."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(1)))
    return model


def _columns(model, count):
    return lambda rows: ([dict(model.preprocess(c[rows])) for c in SENTENCES[:count]], None)


def _labelled(model, labels):
    return lambda rows: ([dict(model.preprocess(SENTENCES[0][rows]))], labels[rows])


UNEVEN = torch.tensor([0, 1, -1, 1, 0, -1, -1, -1])  # rank 0 holds 1 unlabelled row, rank 1 holds 3
CLASSES = torch.tensor([0, 1, 0, 2, 1, 1, 2, 3])  # class 3 has one member: an anchor without positives
LONELY = torch.tensor([0, 1, 2, 3, 5, 5, 6, 6])  # no anchor of rank 0 has a positive anywhere
ONE_SIDED = torch.tensor([0, 1, 0, 1, -1, -1, -1, -1])  # rank 0 has no unlabelled row
LABELLED = torch.tensor([0, 1, 0, 1, 1, 0, 1, 0])  # no unlabelled row anywhere


def build_losses(model_dir, gather):
    """Every objective, each on its own model in eval mode (no dropout, so that the processes and the single process
    see the same embeddings), with `(loss, inputs(rows))`. Uneven SFT rows and SupCon anchors without positives
    check that the mean is taken over all processes' terms."""
    losses = {}
    model = _model(model_dir).eval()
    losses["simcse"] = (SimCSELoss(model, hard_negative_weight=0.7, gather_across_devices=gather), _columns(model, 3))
    model = _model(model_dir).eval()
    losses["simcse+gradcache"] = (SimCSELoss(model, hard_negative_weight=0.7, gather_across_devices=gather,
                                             mini_batch_size=3), _columns(model, 3))
    model = _model(model_dir, lora=True).eval()
    losses["simcse+gradcache+lora"] = (SimCSELoss(model, mlp_only_train=True, gather_across_devices=gather,
                                                  mini_batch_size=3), _columns(model, 2))
    model = _model(model_dir).eval()
    losses["declutr"] = (DeCLUTRLoss(model, do_mlm=False, gather_across_devices=gather), _columns(model, 3))
    model = _model(model_dir).eval()
    losses["supcon"] = (SupConLoss(model, num_views=2, gather_across_devices=gather), _labelled(model, CLASSES))
    model = _model(model_dir).eval()
    losses["supcon+gradcache"] = (SupConLoss(model, gather_across_devices=gather, mini_batch_size=3),
                                  _labelled(model, CLASSES))
    model = _model(model_dir)
    sft = SFTContrastiveLoss(model, num_labels=2, reference="copy", classifier_dropout=0.0,
                             gather_across_devices=gather)
    losses["sft"] = (sft, _labelled(_drifted(model).eval(), UNEVEN))
    model = _model(model_dir)
    sft = SFTContrastiveLoss(model, num_labels=2, reference="copy", classifier_dropout=0.0, contrastive_rows="unlabelled",
                             gather_across_devices=gather)
    losses["sft+unlabelled-rows"] = (sft, _labelled(_drifted(model).eval(), UNEVEN))
    model = _model(model_dir)
    sft = SFTContrastiveLoss(model, num_labels=2, reference="copy", classifier_dropout=0.0, contrastive="supcon",
                             gather_across_devices=gather)
    losses["sft+supcon"] = (sft, _labelled(_drifted(model).eval(), UNEVEN))
    for negatives in ("fine_tuned", "both"):  # the fine-tuned candidates of every process, with their gradients
        for name, kwargs in (("", {}), ("+gradcache", dict(mini_batch_size=3))):
            model = _model(model_dir)
            sft = SFTContrastiveLoss(model, num_labels=2, reference="copy", classifier_dropout=0.0, negatives=negatives,
                                     gather_across_devices=gather, **kwargs)
            losses[f"sft+{negatives}{name}"] = (sft, _labelled(_drifted(model).eval(), UNEVEN))
    model = _model(model_dir).eval()
    losses["supcon+no-positive-on-one-process"] = (SupConLoss(model, gather_across_devices=gather),
                                                   _labelled(model, LONELY))
    for contrastive, negatives in (("info_nce", "reference"), ("info_nce", "fine_tuned"), ("supcon", "reference")):
        for name, labels in (("no-rows-on-one-process", ONE_SIDED), ("no-rows-anywhere", LABELLED)):
            model = _model(model_dir)  # a process (or every process) without contrastive rows
            sft = SFTContrastiveLoss(model, num_labels=2, reference="copy", classifier_dropout=0.0, negatives=negatives,
                                     contrastive=contrastive, contrastive_rows="unlabelled",
                                     gather_across_devices=gather)
            losses[f"sft+{contrastive}+{negatives}+{name}"] = (sft, _labelled(_drifted(model).eval(), labels))
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
