"""One rank of a 2-process gather test (tests/losses/test_gather.py launches it with torchrun, gloo, CPU): the
loss on this rank's half of the batch, its backward, the gradients averaged over the ranks as DDP does."""

import os
import sys

import torch
import torch.distributed as dist

from hf_contrastive.distributed import average_gradients
from tests.helpers.gather_losses import SENTENCES, build_losses, gradients

model_dir, output_dir, gather, mode = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
dist.init_process_group("gloo", timeout=__import__("datetime").timedelta(seconds=60))  # a hang fails fast
rank, world_size = dist.get_rank(), dist.get_world_size()
results = {}
for name, (loss, inputs) in build_losses(model_dir, gather, mode).items():
    half = len(SENTENCES[0]) // world_size
    value = loss(*inputs(slice(rank * half, (rank + 1) * half)))
    value = value if isinstance(value, torch.Tensor) else sum(value.values())
    value.backward()
    average_gradients(loss.parameters())  # DDP's average (a gradient missing on a process counts as zeros there)
    grads = gradients(loss)
    total = value.detach().clone()
    dist.all_reduce(total)
    results[name] = {"loss": total / world_size, "grads": grads}
torch.save(results, os.path.join(output_dir, f"gather{int(gather)}-{mode}-rank{rank}.pt"))
dist.destroy_process_group()
