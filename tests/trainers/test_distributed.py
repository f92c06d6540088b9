import math
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from datasets import Dataset

from hf_contrastive import SimCSEConfig, SimCSETrainer
from hf_contrastive.distributed import average_gradients, broadcast_parameters
from tests.helpers.processes import free_port, torchrun


def _worker(rank: int, world_size: int, port: int, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size,
                            timeout=__import__("datetime").timedelta(seconds=60))
    try:
        weight, bias, unused, idle = (torch.nn.Parameter(torch.zeros(2, 3)), torch.nn.Parameter(torch.zeros(3)),
                                      torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(2)))
        weight.grad = torch.full((2, 3), float(rank + 1))
        bias.grad = torch.arange(3, dtype=torch.float) * (rank + 1)
        if rank == 1:
            unused.grad = torch.tensor([4.0])  # rank 0 has no gradient for it: counted as zeros
        average_gradients([weight, bias, unused, idle])  # idle: no gradient anywhere
        start = torch.nn.Parameter(torch.full((2,), float(rank + 10)))
        broadcast_parameters([start])
        results[rank] = (weight.grad.clone(), bias.grad.clone(), unused.grad.clone(), idle.grad, start.detach().clone())
    finally:
        dist.destroy_process_group()


def test_gradients_are_averaged_across_two_processes():
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(2, free_port(), results), nprocs=2, join=True)
    for rank in (0, 1):
        weight, bias, unused, idle, start = results[rank]
        assert torch.equal(weight, torch.full((2, 3), 1.5))
        assert torch.equal(bias, torch.arange(3, dtype=torch.float) * 1.5)
        assert torch.equal(unused, torch.tensor([2.0]))
        assert idle is None, "a gradient missing on every process stays missing (the optimizer skips it)"
        assert torch.equal(start, torch.full((2,), 10.0)), "process 0's values everywhere"


def test_no_op_in_a_single_process():
    parameter = torch.nn.Parameter(torch.zeros(2))
    parameter.grad = torch.ones(2)
    average_gradients([parameter])
    assert torch.equal(parameter.grad, torch.ones(2))


def test_trainer_syncs_exactly_the_loss_owned_parameters(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = SimCSEConfig(output_dir=str(tmp_path), pooler="cls", mlp_only_train=True, do_mlm=True, **quiet_args)
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
    owned = {id(p) for p in trainer.loss_parameters()}
    expected = {id(p) for p in [*trainer.loss.mlp.parameters(), *trainer.loss.mlm.parameters()]}
    assert owned == expected


@pytest.mark.parametrize("worker_name", ["ddp_simcse_worker.py", "ddp_sft_worker.py", "ddp_scale_worker.py"])
def test_two_process_ddp_training_keeps_model_and_loss_heads_identical(tiny_encoder_dir, sentences, tmp_path,
                                                                       worker_name):
    """torchrun, 2 CPU processes (gloo): each rank sees other data; the model (DDP) and the loss's own heads (SimCSE's
    MLP and MLM head; SFT+contrastive's classifier, beside its frozen reference copy), averaged in
    ContrastiveTrainer.training_step, must end identical on both ranks, and trained. The scale worker does it with
    gathered negatives + gradient caching + LoRA + bf16 together."""
    (tmp_path / "sentences.txt").write_text("\n".join(sentences))
    torchrun(os.path.join(os.path.dirname(__file__), worker_name), tiny_encoder_dir, str(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    for key, value in ranks[0]["model"].items():
        assert torch.equal(value, ranks[1]["model"][key]), key
    assert ranks[0]["loss"].keys() == ranks[1]["loss"].keys() and ranks[0]["loss"]
    for key, value in ranks[0]["loss"].items():
        assert torch.allclose(value, ranks[1]["loss"][key], atol=1e-7), key
    name, start = ranks[0]["trained"]
    assert not torch.equal(ranks[0]["loss"][name], start), f"{name} trained"
    if worker_name == "ddp_sft_worker.py":  # each process its own batches, of the composition asked for
        mixing, alternating = ([r["batches"][strategy] for r in ranks] for strategy in ("mixing", "alternating"))
        assert all(len(b) == 3 and all(sum(x >= 0 for x in labels) == 1 for labels, _ in b) for b in mixing)
        assert all(mixing[0][step][1] != mixing[1][step][1] for step in range(3))
        kinds = [["labelled" if labels else "unlabelled" for labels, _ in b] for b in alternating]
        assert kinds[0] == kinds[1] == ["labelled", "unlabelled", "labelled"], "every step one kind on both"
    if worker_name == "ddp_scale_worker.py":
        assert ranks[0]["lora_trained"] and ranks[0]["bf16"]
        assert ranks[0]["losses"] and all(math.isfinite(loss) for loss in ranks[0]["losses"]), ranks[0]["losses"]
