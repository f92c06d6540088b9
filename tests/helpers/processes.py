"""Launching the worker scripts of the multi-process tests (torchrun: 2 CPU processes, gloo, a free local port), and
what a worker reports back."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tests.helpers import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_env(**extra: str) -> dict[str, str]:
    """This process's environment for a worker script, with this repository first on the import path (so the worker
    imports this checkout and `tests.helpers`), and `extra`."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, *sys.path]), **extra}


def torchrun(worker: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the script `worker` with `args` as 2 processes under torchrun (one thread each, `worker_env`); fails with
    the end of its stderr unless it exits 0."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(free_port()), worker, *args]
    run = subprocess.run(command, env=worker_env(OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def save_rank(trainer, output_dir: str, **extra) -> None:
    """In a worker: what this rank's trainer ended with (world size, model and loss-owned state, and `extra`), to
    `output_dir/rank{RANK}.pt` for the test to compare the ranks."""
    import torch

    model = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
    torch.save({"world_size": trainer.args.world_size, "model": model, "loss": trainer.loss_state_dict(), **extra},
               os.path.join(output_dir, f"rank{os.environ['RANK']}.pt"))
