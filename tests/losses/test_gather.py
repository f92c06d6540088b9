"""Negatives gathered across processes (gloo, CPU, 2 processes launched by torchrun), for every objective — also with
gradient caching and LoRA on top. `gather_gradients="full"`: the loss and every gradient equal one process's on the
concatenated batch. `"local"`: they equal the original SimCSE/DeCLUTR procedure, computed here in one process (each
process's whole-batch loss with only its own rows carrying gradients, then DDP's average), which is 1/world_size of
the full-batch gradient."""

import os
import subprocess
import sys

import pytest
import torch

from hf_contrastive.losses import DeCLUTRLoss, SFTContrastiveLoss, SimCSELoss, SupConLoss
from hf_contrastive.losses.cache import use_gradient_cache
from hf_contrastive.distributed import gather_locally, gather_with_grad
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


SUPCON_OPTIONS = {"zero": {"anchors_without_positive": "zero"}, "one": {"contrast_mode": "one", "num_views": 2},
                  "zero+one": {"anchors_without_positive": "zero", "contrast_mode": "one"}}


def build_losses(model_dir, gather, gradients="full"):
    """Every objective, each on its own model in eval mode (no dropout, so that the processes and the single process
    see the same embeddings), with `(loss, inputs(rows))`. Uneven SFT rows and SupCon anchors without positives
    check that the mean is taken over all processes' terms."""
    losses = {}
    on = {"gather_across_devices": gather, "gather_gradients": gradients}
    model = _model(model_dir).eval()
    losses["simcse"] = (SimCSELoss(model, hard_negative_weight=0.7, **on), _columns(model, 3))
    model = _model(model_dir).eval()
    losses["simcse+gradcache"] = (SimCSELoss(model, hard_negative_weight=0.7, mini_batch_size=3, **on),
                                  _columns(model, 3))
    model = _model(model_dir, lora=True).eval()
    losses["simcse+gradcache+lora"] = (SimCSELoss(model, mlp_only_train=True, mini_batch_size=3, **on),
                                       _columns(model, 2))
    model = _model(model_dir).eval()
    losses["declutr"] = (DeCLUTRLoss(model, do_mlm=False, **on), _columns(model, 3))
    model = _model(model_dir).eval()
    losses["supcon"] = (SupConLoss(model, num_views=2, **on), _labelled(model, CLASSES))
    model = _model(model_dir).eval()
    losses["supcon+gradcache"] = (SupConLoss(model, mini_batch_size=3, **on), _labelled(model, CLASSES))
    for option, options in SUPCON_OPTIONS.items():  # one view: class 3 has an anchor without positive, rank 0 of
        for name, labels in (("", CLASSES), ("+no-positive-on-one-process", LONELY)):  # LONELY only such anchors
            model = _model(model_dir).eval()
            losses[f"supcon+{option}{name}"] = (SupConLoss(model, **options, **on), _labelled(model, labels))
    model = _model(model_dir)
    sft = SFTContrastiveLoss(model, num_labels=2, reference="copy", classifier_dropout=0.0, **on)
    losses["sft"] = (sft, _labelled(_drifted(model).eval(), UNEVEN))
    model = _model(model_dir)
    sft = SFTContrastiveLoss(model, num_labels=2, reference="copy", classifier_dropout=0.0, contrastive_rows="unlabelled",
                             **on)
    losses["sft+unlabelled-rows"] = (sft, _labelled(_drifted(model).eval(), UNEVEN))
    model = _model(model_dir)
    sft = SFTContrastiveLoss(model, num_labels=2, reference="copy", classifier_dropout=0.0, contrastive="supcon", **on)
    losses["sft+supcon"] = (sft, _labelled(_drifted(model).eval(), UNEVEN))
    model = _model(model_dir).eval()
    losses["supcon+no-positive-on-one-process"] = (SupConLoss(model, **on), _labelled(model, LONELY))
    for contrastive in ("info_nce", "supcon"):  # a process (or every process) without contrastive rows
        for name, labels in (("no-rows-on-one-process", ONE_SIDED), ("no-rows-anywhere", LABELLED)):
            model = _model(model_dir)
            sft = SFTContrastiveLoss(model, num_labels=2, reference="copy", classifier_dropout=0.0,
                                     contrastive=contrastive, contrastive_rows="unlabelled", **on)
            losses[f"sft+{contrastive}+{name}"] = (sft, _labelled(_drifted(model).eval(), labels))
    return losses


def gradients(loss):
    return {n: p.grad.detach().clone() for n, p in loss.named_parameters() if p.grad is not None}


def run_two_processes(model_dir, tmp_path, gather, gradients="full"):
    worker = os.path.join(os.path.dirname(__file__), "gather_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(_free_port()), worker, model_dir, str(tmp_path), str(int(gather)), gradients]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return [torch.load(tmp_path / f"gather{int(gather)}-{gradients}-rank{r}.pt", weights_only=False) for r in (0, 1)]


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ROWS, WORLD_SIZE = len(SENTENCES[0]), 2


def one_process(loss, inputs):
    """The loss of one process on the whole batch, and its gradients."""
    value = loss(*inputs(slice(0, ROWS)))
    value = value if isinstance(value, torch.Tensor) else sum(value.values())
    value.backward()
    return {"loss": value.detach(), "grads": gradients(loss)}


def originals_procedure(loss, inputs):
    """What the original SimCSE/DeCLUTR code gives, in one process: process `r` computes the whole batch's loss from
    every process's rows, of which only its own carry gradients (the others are `dist.all_gather` copies: detached),
    and back-propagates it; DDP averages the processes' gradients. Rows are detached where the loss gathers them
    (after SimCSE's MLP, else at the model's output; each forward holds whole columns of `ROWS` rows, process `r`'s
    being rows `r * ROWS / WORLD_SIZE ...` of each). SFT's cross-entropy gathers nothing: its exact gradient is added
    once. Gradient caching is off here (cached == uncached: tests/losses/test_gradcache.py)."""
    mini_batch_size = getattr(loss, "mini_batch_size", None)
    if mini_batch_size is not None:
        use_gradient_cache(loss, None)
    target = loss.mlp if getattr(loss, "mlp", None) is not None else loss.model

    def only_own_rows(rank):
        def hook(module, args, output):
            rows = output if isinstance(output, torch.Tensor) else output["sentence_embedding"]
            own = (torch.arange(rows.size(0)) % ROWS) // (ROWS // WORLD_SIZE) == rank
            rows = torch.where(own[:, None], rows, rows.detach())
            return rows if isinstance(output, torch.Tensor) else {**output, "sentence_embedding": rows}
        return hook

    grads = {}
    for rank in range(WORLD_SIZE):
        handle = target.register_forward_hook(only_own_rows(rank))
        terms = loss(*inputs(slice(0, ROWS)))
        handle.remove()
        terms = terms if isinstance(terms, dict) else {"loss": terms}
        loss.zero_grad()
        sum(value for name, value in terms.items() if name != "sft").backward()
        for name, grad in gradients(loss).items():
            grads[name] = grads.get(name, 0) + grad / WORLD_SIZE  # DDP's average
    if "sft" in terms:
        loss.zero_grad()
        loss(*inputs(slice(0, ROWS)))["sft"].backward()
        for name, grad in gradients(loss).items():
            grads[name] = grads.get(name, 0) + grad
    if mini_batch_size is not None:
        use_gradient_cache(loss, mini_batch_size)
    return {"loss": sum(terms.values()).detach(), "grads": grads}


def assert_equal_results(got, expected, name):
    assert len(expected["grads"]) > 10, name
    assert torch.allclose(got["loss"], expected["loss"], atol=1e-6), name
    assert got["grads"].keys() == expected["grads"].keys(), name
    for key, grad in expected["grads"].items():
        assert torch.allclose(got["grads"][key], grad, atol=1e-6, rtol=1e-4), (name, key)


def test_gathered_loss_and_gradients_equal_one_process_on_the_whole_batch(tiny_encoder_dir, tmp_path):
    losses = build_losses(tiny_encoder_dir, True)
    expected = {name: one_process(loss, inputs) for name, (loss, inputs) in losses.items()}
    for rank in run_two_processes(tiny_encoder_dir, tmp_path, gather=True):
        for name, single in expected.items():
            assert_equal_results(rank[name], single, name)
    per_process = run_two_processes(tiny_encoder_dir, tmp_path, gather=False)  # the control: fewer negatives differ
    assert not torch.allclose(per_process[0]["simcse"]["loss"], expected["simcse"]["loss"], atol=1e-4)


def test_local_gradients_equal_the_originals_procedure(tiny_encoder_dir, tmp_path):
    """`gather_gradients="local"`: the loss of each process is the whole batch's, and the averaged gradients are the
    originals' — 1/world_size of the full-batch gradient where the whole loss is gathered (SFT's cross-entropy is
    not)."""
    losses = build_losses(tiny_encoder_dir, True, "local")
    expected = {name: originals_procedure(loss, inputs) for name, (loss, inputs) in losses.items()}
    losses = build_losses(tiny_encoder_dir, True)
    full_batch = {name: one_process(loss, inputs) for name, (loss, inputs) in losses.items()}
    for name, originals in expected.items():
        if not name.startswith("sft"):  # the derivation: sum over processes of dL/d(own rows) is dL/d(all rows)
            for key, grad in full_batch[name]["grads"].items():
                assert torch.allclose(originals["grads"][key], grad / WORLD_SIZE, atol=1e-6, rtol=1e-4), (name, key)
    for rank in run_two_processes(tiny_encoder_dir, tmp_path, gather=True, gradients="local"):
        for name, originals in expected.items():
            assert_equal_results(rank[name], originals, name)


def test_gather_is_the_identity_in_one_process():
    tensor = torch.randn(3, 4, requires_grad=True)
    for gather in (gather_with_grad, gather_locally):
        gathered, offset = gather(tensor)
        assert gathered is tensor and offset == 0
