"""Negatives gathered across processes (gloo, CPU, 2 processes launched by torchrun), for every objective — also with
gradient caching and LoRA on top. `gather_gradients="full"`: the loss and every gradient equal one process's on the
concatenated batch. `"local"`: they equal the original SimCSE/DeCLUTR procedure, computed here in one process (each
process's whole-batch loss with only its own rows carrying gradients, then DDP's average), which is 1/world_size of
the full-batch gradient."""

import os

import torch

from hf_contrastive.distributed import gather_locally, gather_with_grad
from hf_contrastive.losses.cache import use_gradient_cache
from tests.helpers.gather_losses import SENTENCES, build_losses, gradients
from tests.helpers.processes import torchrun


def run_two_processes(model_dir, tmp_path, gather, gradients="full"):
    torchrun(os.path.join(os.path.dirname(__file__), "gather_worker.py"), model_dir, str(tmp_path), str(int(gather)),
             gradients)
    return [torch.load(tmp_path / f"gather{int(gather)}-{gradients}-rank{r}.pt", weights_only=False) for r in (0, 1)]


ROWS, WORLD_SIZE = len(SENTENCES[0]), 2
EXACT_TERMS = ("sft", "consistency")  # SFT's terms that gather nothing: exact whatever `gather_gradients`


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
    being rows `r * ROWS / WORLD_SIZE ...` of each). SFT's cross-entropy and consistency terms gather nothing: their
    exact gradient is added once. Gradient caching is off here (cached == uncached: tests/losses/test_gradcache.py)."""
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
        sum(value for name, value in terms.items() if name not in EXACT_TERMS).backward()
        for name, grad in gradients(loss).items():
            grads[name] = grads.get(name, 0) + grad / WORLD_SIZE  # DDP's average
    exact = [name for name in EXACT_TERMS if name in terms]
    if exact:
        loss.zero_grad()
        exact_terms = loss(*inputs(slice(0, ROWS)))
        sum(exact_terms[name] for name in exact).backward()
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
