"""Catastrophic forgetting: fine-tune all-MiniLM-L6-v2 on 3-class NLI with (a) cross-entropy only and (b)
SFT+contrastive (cross-entropy + λ·InfoNCE to the frozen pretrained embeddings), same data, steps, seed and learning
rate (2e-5 for the encoder, 1e-3 for the fresh classification head); print the task accuracy and the STS-B dev Spearman before and after. The point of (b): it keeps STS-B close
to the base model while (a) drifts away from it.

Task: premise/hypothesis pairs from `benchmarks/data/snli_train_subset20k.tsv.gz` (SNLI-train rows; our own split:
2,000 test pairs, the rest for training); the head classifies `(u, v, |u - v|)` as SBERT's NLI classifier. The
accuracy is on that split, not SNLI test accuracy. `--with-peer` adds sentence-transformers' `SoftmaxLoss` (the
peer's cross-entropy-only recipe) on the same work. Each run is a fresh process, so its peak memory is its own.

    python -m benchmarks.sft_forgetting [--steps 150] [--batch-size 32] [--lambda 1.0] [--temperature 0.05]
                                         [--negatives fine_tuned] [--with-peer] [--eval-every 50]

`--eval-every N` also evaluates our two runs every N steps (the Trainer's evaluation: the head's accuracy on the test
pairs and the `sts-dev` evaluator) and prints and plots (`OUTPUT_DIR/tradeoff.png`) accuracy against STS-B change
along training: the runs compared at equal task accuracy wherever their curves overlap, not only at their ends. The
pairs/s then leave out the evaluations. Every run's results go to `OUTPUT_DIR/results.json`.

The closing line reads the comparison the method is held to: whether the two runs' task accuracies are within 1
point of each other, SFT+contrastive's STS-B dev within 2 points of the base model and cross-entropy's 5 or more
below it. Runs longer than the shipped pairs allow (`steps x batch` > 18,000) go round them again.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import sys
from typing import Any

from benchmarks.common import common_args, minilm_path, our_config, save_figure, stsb_dev, train_and_measure
from benchmarks.study import Study

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "snli_train_subset20k.tsv.gz")
LABELS = ["entailment", "neutral", "contradiction"]
RUNS = ("cross-entropy only", "SFT+contrastive")
# The settings every run of the study shares, passed on to each worker (`--lambda` sets `weight`).
STUDY = Study("benchmarks.sft_forgetting", ("steps", "batch_size", "weight", "temperature", "negatives", "seed",
                                            "eval_every"), flags={"weight": "--lambda"})
PEER = "ST SoftmaxLoss (peer)"
TEST_SIZE = 2000


def nli_split(seed: int) -> tuple[dict, dict]:
    """Our own train/test split of the shipped SNLI-train pairs (columns premise, hypothesis, label ids)."""
    with gzip.open(DATA, "rt", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    random.Random(seed).shuffle(rows)

    def columns(part: list[dict]) -> dict:
        return {"premise": [r["premise"] for r in part], "hypothesis": [r["hypothesis"] for r in part],
                "label": [LABELS.index(r["label"]) for r in part]}

    return columns(rows[TEST_SIZE:]), columns(rows[:TEST_SIZE])


def worker(kind: str, steps: int, batch_size: int, weight: float, temperature: float, negatives: str, seed: int,
           output_dir: str, precision: str = "fp32", device: str = "cpu", eval_every: int = 0) -> dict:
    """One fine-tuning run in this process, on `device` in `precision`; returns its measurements. With `eval_every`,
    our runs also evaluate the task accuracy and STS-B dev every `eval_every` steps (the Trainer's own evaluation:
    `eval_dataset` and the `sts-dev` evaluator) and return them as `trajectory`."""
    import torch
    from datasets import ClassLabel, Dataset, Features, Value

    from hf_contrastive import (EmbeddingClassifier, SFTContrastiveConfig, SFTContrastiveTrainer, STSEvaluator,
                                load_stsb)

    from transformers import set_seed

    set_seed(seed)  # the head is initialised before the Trainer seeds
    path = minilm_path()
    train, test = nli_split(seed)
    features = Features({"premise": Value("string"), "hypothesis": Value("string"), "label": ClassLabel(names=LABELS)})
    train = Dataset.from_dict(train, features=features)
    train = train.select(range(min(steps * batch_size, len(train))))
    test = Dataset.from_dict(test, features=features)
    common = common_args(output_dir, steps, batch_size, seed, precision, device) | dict(
        learning_rate=2e-5, warmup_steps=int(0.1 * steps), logging_steps=max(1, steps // 10))
    if kind == PEER:
        from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
        from sentence_transformers import SentenceTransformerTrainingArguments
        from sentence_transformers.sentence_transformer.losses import SoftmaxLoss

        model = SentenceTransformer(path)
        loss = SoftmaxLoss(model, model.get_embedding_dimension(), num_labels=len(LABELS))
        peer_args = SentenceTransformerTrainingArguments(learning_rate_mapping={r"^classifier\.": 1e-3}, **common)
        trainer = SentenceTransformerTrainer(model=model, args=peer_args,
                                             train_dataset=train, loss=loss)
    else:
        evaluation = dict(eval_strategy="steps", eval_steps=eval_every,
                          per_device_eval_batch_size=128) if eval_every else {}
        args = our_config(SFTContrastiveConfig, common, contrastive_weight=weight if kind == RUNS[1] else 0.0,
                          head_learning_rate=1e-3, temperature=temperature, negatives=negatives,
                          classifier_dropout=0.0, **evaluation)  # no head dropout, as SoftmaxLoss
        trainer = SFTContrastiveTrainer(
            model=path, args=args, train_dataset=train, eval_dataset=test if eval_every else None,
            evaluator=STSEvaluator.from_dataset(load_stsb("dev"), name="sts-dev") if eval_every else None)
        model = trainer.model
    before = stsb_dev(model)
    measured = train_and_measure(trainer, steps * batch_size)
    after = stsb_dev(model)
    if kind == PEER:  # SoftmaxLoss's classifier over (u, v, |u - v|)
        with torch.no_grad():
            u = model.encode(test["premise"], convert_to_tensor=True)
            v = model.encode(test["hypothesis"], convert_to_tensor=True)
            logits = loss.classifier(torch.cat([u, v, (u - v).abs()], dim=1))
        predictions = logits.argmax(dim=1).tolist()
    else:
        trainer.save_model()
        classifier = EmbeddingClassifier.from_pretrained(output_dir)
        predictions = [LABELS.index(p) for p in classifier.predict(list(zip(test["premise"], test["hypothesis"])))]
    accuracy = 100 * sum(p == g for p, g in zip(predictions, test["label"])) / len(test)
    trajectory = [{"step": log["step"], "accuracy": 100 * log["eval_accuracy"],
                   "stsb_dev": 100 * log["eval_sts-dev_spearman_cosine"]}
                  for log in trainer.state.log_history if "eval_accuracy" in log]
    return measured | {"run": kind, "accuracy": accuracy, "stsb_before": before, "stsb_dev": after,
                       "trajectory": trajectory}


def library_default(field: str):
    """`SFTContrastiveConfig`'s default for `field` (the study runs the library's defaults unless told otherwise)."""
    from hf_contrastive import SFTContrastiveConfig

    return SFTContrastiveConfig.__dataclass_fields__[field].default


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sft_forgetting", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lambda", dest="weight", type=float, default=1.0, help="contrastive_weight of run (b)")
    parser.add_argument("--temperature", type=float, default=0.05, help="InfoNCE temperature of run (b)")
    parser.add_argument("--negatives", default=library_default("negatives"),
                        choices=["fine_tuned", "reference", "both"],
                        help="InfoNCE negatives of run (b); SFTContrastiveConfig's by default")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--with-peer", action="store_true", help="Also run sentence-transformers' SoftmaxLoss.")
    parser.add_argument("--eval-every", type=int, default=0,
                        help="Also evaluate our runs' task accuracy and STS-B dev every N steps (their trade-off "
                             "curve, printed and plotted in OUTPUT_DIR/tradeoff.png); 0: only at the end.")
    parser.add_argument("--output-dir", default="benchmark-runs/sft")
    parser.add_argument("--worker", choices=RUNS + (PEER,), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main() -> None:
    options = parse()
    if options.worker:
        result = worker(options.worker, options.steps, options.batch_size, options.weight, options.temperature,
                        options.negatives, options.seed,
                        os.path.join(options.output_dir, options.worker.replace(" ", "_")),
                        eval_every=options.eval_every)
        print("RESULT " + json.dumps(result))
        return

    import torch

    results = []
    for run in RUNS + ((PEER,) if options.with_peer else ()):
        results.append(STUDY.run_worker(options, run))
        print(f"  {results[-1]}", file=sys.stderr)

    print(f"\n3-class NLI (our split of SNLI-train pairs: {options.steps * options.batch_size:,} training pairs "
          f"seen, {TEST_SIZE:,} test), all-MiniLM-L6-v2, {options.steps} steps x batch {options.batch_size}, lr 2e-5 (head 1e-3), seed {options.seed}, "
          f"λ={options.weight}, temperature {options.temperature}, negatives {options.negatives}, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads")
    print(f"| {'run':<24} | {'task acc %':>10} | {'STS-B dev before':>16} | {'after':>6} | {'change':>7} | "
          f"{'pairs/s':>7} | {'peak memory MiB':>12} |")
    print(f"|{'-' * 26}|{'-' * 12}|{'-' * 18}|{'-' * 8}|{'-' * 9}|{'-' * 9}|{'-' * 14}|")
    for r in results:
        print(f"| {r['run']:<24} | {r['accuracy']:>10.2f} | {r['stsb_before']:>16.2f} | {r['stsb_dev']:>6.2f} | "
              f"{r['stsb_dev'] - r['stsb_before']:>+7.2f} | {r['examples_per_s']:>7.2f} | {r['peak_memory_mib']:>12.0f} |")

    print(verdict(*results[:2]))
    with open(os.path.join(options.output_dir, "results.json"), "w") as file:
        json.dump({"settings": vars(options), "results": results}, file, indent=1)
    if options.eval_every:
        print(trajectory_table(results))
        plot_tradeoff(results, os.path.join(options.output_dir, "tradeoff.png"))


def verdict(cross_entropy: dict, sft_contrastive: dict) -> str:
    """The comparison the method is held to (issue 13): at equal task accuracy (within 1 point), SFT+contrastive
    keeps STS-B dev within 2 points of the base model while cross-entropy only loses 5 or more."""
    def change(run: dict) -> float:
        return run["stsb_dev"] - run["stsb_before"]

    gap = sft_contrastive["accuracy"] - cross_entropy["accuracy"]
    checks = [(f"task accuracy within 1 point ({gap:+.2f})", abs(gap) <= 1),
              (f"SFT+contrastive STS-B dev change >= -2 ({change(sft_contrastive):+.2f})",
               change(sft_contrastive) >= -2),
              (f"cross-entropy STS-B dev change <= -5 ({change(cross_entropy):+.2f})", change(cross_entropy) <= -5)]
    return "\n" + "\n".join(f"{'yes' if ok else 'NO '}  {text}" for text, ok in checks)


def trajectory_table(results: list[dict]) -> str:
    """Each run's task accuracy and STS-B dev change at every evaluation, side by side by step."""
    tracked = [r for r in results if r["trajectory"]]
    lines = ["\n| step | " + " | ".join(f"{r['run']}: acc % / STS-B change" for r in tracked) + " |",
             "|---:|" + "---:|" * len(tracked)]
    for step in sorted({point["step"] for r in tracked for point in r["trajectory"]}):
        cells = []
        for r in tracked:
            point = next((p for p in r["trajectory"] if p["step"] == step), None)
            cells.append(f"{point['accuracy']:.2f} / {point['stsb_dev'] - r['stsb_before']:+.2f}" if point else "-")
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_tradeoff(results: list[dict], path: str) -> None:
    """`figure_for(results)` saved as a PNG at `path`."""
    save_figure(figure_for(results), path)


def figure_for(results: list[dict]) -> Any:
    """Task accuracy against STS-B dev change along each run (a point per evaluation, labelled with its step): at
    any accuracy, the run whose curve lies higher kept more of the pretrained representation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    for r in results:
        if r["trajectory"]:
            x = [p["accuracy"] for p in r["trajectory"]]
            y = [p["stsb_dev"] - r["stsb_before"] for p in r["trajectory"]]
            axes.plot(x, y, marker="o", label=r["run"])
            for p, a, b in zip(r["trajectory"], x, y):
                axes.annotate(str(p["step"]), (a, b), textcoords="offset points", xytext=(3, 3), fontsize=7)
    axes.axhline(-2, color="grey", linestyle=":", linewidth=1)
    axes.set_xlabel("task accuracy % (NLI, our test split)")
    axes.set_ylabel("STS-B dev change from the base model")
    axes.set_title("Task accuracy against forgetting, along training (points: steps)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


if __name__ == "__main__":
    main()
