"""Semi-supervised fine-tuning from few labels (the setting SFT+contrastive's source text is about): all-MiniLM-L6-v2
on SST-2 (2 classes) and TREC (6 classes) with 1%, 10% and 100% of the training rows labelled and the remaining
training texts as unlabelled data. Per (task, labelled fraction, method): test accuracy mean ± std over the seeds,
and the STS-B dev change from the base model (how much of the pretrained representation is kept).

Methods, all on identical steps, batch size, learning rates, maximum length and evaluation:
- `probe`: the frozen base model's embeddings with scikit-learn's logistic regression on the labelled rows (the floor);
- `ce`: cross-entropy only on the labelled rows (`contrastive_weight=0`);
- `mixing/<negatives>`: SFT+contrastive, every batch `labelled_per_batch` labelled rows and the rest unlabelled;
- `alternating/<negatives>`: SFT+contrastive, a labelled batch then an unlabelled batch;
for each `negatives` (`fine_tuned`: the source text's, `reference`, `both`). At 100% there are no remaining texts:
mixing trains on the labelled rows alone (the contrastive term over all of them) and alternating's unlabelled batches
would reuse the training texts without their labels, so only `--full-label-methods` run there.

Data: `benchmarks/data/senteval/` (SentEval's files, see its SOURCE.md). SST-2's train split is phrase-level (67,349
rows); the study draws a fixed pool of `--pool` training rows of it (seed 0) so that the probe and every run see the
same pool; TREC's pool is its whole train split (5,452). Labelled rows: a stratified draw per seed (each class its
share, at least one row). Test: SST-2 test (1,821 sentences), TREC test (500).

Each cell (task, labelled fraction, seed) runs in a fresh process (`benchmarks.common.run_in_fresh_process`): the
base model embeds the cell's labelled rows and the test set once, for the probe and for every method's starting head;
then each method trains from the pretrained weights, seeded alike, and is evaluated on the test set and STS-B dev. The
base model's STS-B dev is measured once, in its own process. Results go to `OUTPUT_DIR/results.json` as each cell
finishes (a rerun with `--resume` skips the runs already there); the table is printed and the plot (accuracy against
labelled fraction, one line per method, error bars = std over seeds) saved as `OUTPUT_DIR/accuracy.png`
(matplotlib: `pip install hf_contrastive[bench]`).

    python -m benchmarks.semi_supervised [--tasks sst2 trec] [--fractions 0.01 0.1 1.0] [--seeds 0 1 2]
                                          [--methods ...] [--steps 20] [--batch-size 32] [--quick] [--resume]

The defaults (2 tasks x 3 fractions x 3 seeds = 18 cells: at 1% and 10% the probe and 7 trained methods, at 100%
`--full-label-methods`, the probe, `ce` and `mixing/fine_tuned`: 96 training runs; 20 steps x batch 32, 8 labelled
rows a mixing batch, lr 2e-5 / head 1e-3, max length 64) are the study the README reports, with its measured time
(a training run, its test-set and STS-B dev evaluation included, takes about a minute on 2 CPU cores). `--quick`
(TREC, 10%, seed 0, 8 steps x batch 16, probe, ce, mixing/fine_tuned, alternating/fine_tuned) is the smoke run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import statistics
import sys
import time
from typing import Any

from benchmarks.common import minilm_path, process_cpu_seconds, run_in_fresh_process, stsb_dev

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "senteval")
TASKS = {"sst2": ["0", "1"], "trec": ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]}  # label names, in class order
NEGATIVES = ("fine_tuned", "reference", "both")
METHODS = ("probe", "ce", *(f"{strategy}/{n}" for strategy in ("mixing", "alternating") for n in NEGATIVES))


def read_task(task: str) -> dict[str, tuple[list[str], list[int]]]:
    """`{split: (texts, class ids)}` of a SentEval file (gzip TSV with a header, no quoting)."""
    names = TASKS[task]
    splits: dict[str, tuple[list[str], list[int]]] = {}
    with gzip.open(os.path.join(DATA, f"{task}.tsv.gz"), "rt", encoding="utf-8") as file:
        header = file.readline().rstrip("\n").split("\t")
        for line in file:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            texts, labels = splits.setdefault(row["split"], ([], []))
            texts.append(row["text"])
            labels.append(names.index(row["label"]))
    return splits


def training_pool(task: str, pool: int) -> tuple[list[str], list[int]]:
    """The task's training rows the study draws from: at most `pool` of them, a fixed draw (seed 0)."""
    import random

    texts, labels = read_task(task)["train"]
    if len(texts) <= pool:
        return texts, labels
    chosen = sorted(random.Random(0).sample(range(len(texts)), pool))
    return [texts[i] for i in chosen], [labels[i] for i in chosen]


def stratified_draw(labels: list[int], fraction: float, seed: int) -> list[int]:
    """Indices of a labelled subset: from each class, `fraction` of its rows (rounded, at least one), drawn with
    `seed`; all rows at `fraction=1`.

    >>> stratified_draw([0, 0, 0, 0, 1, 1], 0.5, seed=0) == sorted(stratified_draw([0, 0, 0, 0, 1, 1], 0.5, seed=0))
    True
    >>> len(stratified_draw([0, 0, 0, 0, 1, 1], 0.5, seed=0))
    3
    """
    import random

    rng = random.Random(seed)
    chosen = []
    for label in sorted(set(labels)):
        rows = [i for i, x in enumerate(labels) if x == label]
        chosen += rng.sample(rows, max(1, round(fraction * len(rows))))
    return sorted(chosen)


def split_for(task: str, fraction: float, seed: int, pool: int) -> dict[str, Any]:
    """The labelled rows, the unlabelled texts (the rest of the pool; at 100%, the labelled texts again, for
    alternating) and the test rows of one cell."""
    texts, labels = training_pool(task, pool)
    chosen = stratified_draw(labels, fraction, seed)
    rest = sorted(set(range(len(texts))) - set(chosen))
    test_texts, test_labels = read_task(task)["test"]
    return {"texts": [texts[i] for i in chosen], "labels": [labels[i] for i in chosen],
            "unlabelled": [texts[i] for i in rest], "test": (test_texts, test_labels)}


def train_run(task: str, fraction: float, method: str, seed: int, split: dict[str, Any], probe: Any,
              options: argparse.Namespace) -> dict:
    """One fine-tuning run from the pretrained weights (head from `probe` with `--head-init probe`): test accuracy
    (the head on the embeddings) and STS-B dev after, with its time."""
    import torch
    from datasets import ClassLabel, Dataset, Features, Value
    from transformers import set_seed

    from hf_contrastive import SFTContrastiveConfig, SFTContrastiveTrainer

    began, began_cpu = time.perf_counter(), process_cpu_seconds()
    set_seed(seed)  # the head is initialised before the Trainer seeds
    features = Features({"text": Value("string"), "label": ClassLabel(names=TASKS[task])})
    train = Dataset.from_dict({"text": split["texts"], "label": split["labels"]}, features=features)
    strategy, _, negatives = method.partition("/")
    unlabelled = split["unlabelled"] or (split["texts"] if strategy == "alternating" else [])
    composition = {}
    if strategy == "mixing" and unlabelled:
        composition = dict(labelled_per_batch=options.labelled_per_batch)
    elif strategy == "alternating":
        composition = dict(strategy="alternating")
    args = SFTContrastiveConfig(
        output_dir=os.path.join(options.output_dir, "runs", f"{task}-{fraction}-{method.replace('/', '-')}-{seed}"),
        max_steps=options.steps, per_device_train_batch_size=options.batch_size, learning_rate=options.learning_rate,
        head_learning_rate=options.head_learning_rate, warmup_steps=math.ceil(0.1 * options.steps), seed=seed,
        max_seq_length=options.max_seq_length, save_strategy="no", report_to="none", disable_tqdm=True,
        logging_steps=max(1, options.steps // 5), dataloader_pin_memory=False,
        contrastive_weight=0.0 if method == "ce" else options.weight, temperature=options.temperature,
        negatives=negatives or "fine_tuned", **composition)
    trainer = SFTContrastiveTrainer(model=minilm_path(), args=args, train_dataset=train,
                                    unlabelled_dataset=Dataset.from_dict({"text": unlabelled}) if unlabelled and
                                    method != "ce" else None)
    if options.head_init == "probe":
        head_from_probe(trainer.loss.head, probe)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    model, head = trainer.model.eval(), trainer.loss.head.eval()
    test_texts, test_labels = split["test"]
    with torch.no_grad():
        embeddings = model.encode(test_texts, convert_to_tensor=True, batch_size=128)
        predictions = head([embeddings]).argmax(dim=1).tolist()
    accuracy = 100 * sum(p == g for p, g in zip(predictions, test_labels)) / len(test_labels)
    return {"task": task, "fraction": fraction, "method": method, "seed": seed, "accuracy": accuracy,
            "stsb_dev": stsb_dev(model), "train_seconds": seconds, "labelled": len(train),
            "unlabelled": len(unlabelled) if method != "ce" else 0, "wall_seconds": time.perf_counter() - began,
            "cpu_seconds": process_cpu_seconds() - began_cpu}


def fit_probe(embeddings: Any, labels: list[int], seed: int) -> Any:
    """The study's linear probe: scikit-learn's logistic regression on frozen embeddings."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, random_state=seed).fit(embeddings, labels)


def head_from_probe(head: Any, probe: Any) -> None:
    """LP-FT (Kumar et al., 2022, "Fine-Tuning can Distort Pretrained Features"): the head starts as the probe fitted
    on the base model's embeddings of the labelled rows, so that every fine-tuned method starts at the probe's
    accuracy and a short run measures what fine-tuning adds rather than how fast a random head converges. A binary
    probe's single score is class 1's logit against a zero logit for class 0."""
    import numpy as np
    import torch

    weight, bias = probe.coef_, probe.intercept_
    if weight.shape[0] == 1:
        weight, bias = np.concatenate([np.zeros_like(weight), weight]), np.concatenate([[0.0], bias])
    with torch.no_grad():
        head.linear.weight.copy_(torch.as_tensor(weight, dtype=head.linear.weight.dtype))
        head.linear.bias.copy_(torch.as_tensor(bias, dtype=head.linear.bias.dtype))


def cell_worker(task: str, fraction: float, seed: int, options: argparse.Namespace) -> list[dict]:
    """One cell in this process: the frozen base model embeds the labelled rows and the test set once; the probe
    (the floor, reported with the base model's STS-B dev, `--base-stsb`) is fit on them and is every run's starting
    head; then each of `options.methods` trains from the pretrained weights."""
    import gc

    import numpy as np
    from sentence_transformers import SentenceTransformer

    began, began_cpu = time.perf_counter(), process_cpu_seconds()
    split = split_for(task, fraction, seed, options.pool)
    base = SentenceTransformer(minilm_path())
    base.max_seq_length = options.max_seq_length
    needed = "probe" in options.methods or options.head_init == "probe"
    probe = fit_probe(base.encode(split["texts"], batch_size=128), split["labels"], seed) if needed else None
    results = []
    if "probe" in options.methods:
        test_texts, test_labels = split["test"]
        accuracy = 100 * float((probe.predict(base.encode(test_texts, batch_size=128)) == np.asarray(test_labels))
                               .mean())
        results.append({"task": task, "fraction": fraction, "method": "probe", "seed": seed, "accuracy": accuracy,
                        "stsb_dev": options.base_stsb, "labelled": len(split["texts"]), "unlabelled": 0,
                        "wall_seconds": time.perf_counter() - began, "cpu_seconds": process_cpu_seconds() - began_cpu})
    del base
    for method in options.methods:
        if method != "probe":
            results.append(train_run(task, fraction, method, seed, split, probe, options))
            gc.collect()
    return results


def summarize(results: list[dict], base: float) -> list[dict]:
    """One row per (task, fraction, method): accuracy mean and std over the seeds, STS-B dev change from `base`."""
    cells: dict[tuple, list[dict]] = {}
    for r in results:
        cells.setdefault((r["task"], r["fraction"], r["method"]), []).append(r)
    rows = []
    for (task, fraction, method), runs in sorted(cells.items(), key=lambda c: (c[0][0], c[0][1],
                                                                                 METHODS.index(c[0][2]))):
        accuracy = [r["accuracy"] for r in runs]
        change = [r["stsb_dev"] - base for r in runs]
        rows.append({"task": task, "fraction": fraction, "method": method, "seeds": sorted(r["seed"] for r in runs),
                     "accuracy": statistics.mean(accuracy),
                     "accuracy_std": statistics.stdev(accuracy) if len(accuracy) > 1 else 0.0,
                     "stsb_change": statistics.mean(change),
                     "stsb_change_std": statistics.stdev(change) if len(change) > 1 else 0.0,
                     "labelled": runs[0]["labelled"], "unlabelled": runs[0]["unlabelled"]})
    return rows


def print_table(rows: list[dict], base: float, options: argparse.Namespace) -> None:
    import torch

    print(f"\nSemi-supervised fine-tuning, all-MiniLM-L6-v2, {options.steps} steps x batch {options.batch_size}, lr "
          f"{options.learning_rate:g} (head {options.head_learning_rate:g}, "
          f"{'starting at the probe' if options.head_init == 'probe' else 'random init'}), max length {options.max_seq_length}, "
          f"λ={options.weight}, temperature {options.temperature}, labelled_per_batch {options.labelled_per_batch} "
          f"(mixing), seeds {options.seeds}, pool {options.pool} (SST-2), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; base STS-B dev {base:.2f}")
    print("| task | labelled | method | labelled rows | unlabelled rows | test acc % (mean ± std) | "
          "STS-B dev change (mean ± std) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['task']} | {100 * r['fraction']:g}% | {r['method']} | {r['labelled']:,} | {r['unlabelled']:,} | "
              f"{r['accuracy']:.2f} ± {r['accuracy_std']:.2f} | "
              f"{r['stsb_change']:+.2f} ± {r['stsb_change_std']:.2f} |")


def plot(rows: list[dict], path: str) -> None:
    """Test accuracy against the labelled fraction, one panel per task, one line per method, error bars = std."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in rows})
    figure, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.5), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        for method in METHODS:
            points = sorted((r["fraction"], r["accuracy"], r["accuracy_std"]) for r in rows
                            if r["task"] == task and r["method"] == method)
            if points:
                x, y, error = zip(*points)
                axis.errorbar([100 * f for f in x], y, yerr=error, marker="o", capsize=3, label=method,
                              linestyle="--" if method == "probe" else "-")
        axis.set_xscale("log")
        axis.set_xlabel("labelled training rows (%)")
        axis.set_ylabel("test accuracy (%)")
        axis.set_title(task.upper())
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def worker_arguments(options: argparse.Namespace) -> list[str]:
    """The study's settings, passed on to each fresh process."""
    return ["--steps", str(options.steps), "--batch-size", str(options.batch_size), "--learning-rate",
            str(options.learning_rate), "--head-learning-rate", str(options.head_learning_rate), "--head-init",
            options.head_init, "--lambda",
            str(options.weight), "--temperature", str(options.temperature), "--labelled-per-batch",
            str(options.labelled_per_batch), "--max-seq-length", str(options.max_seq_length), "--pool",
            str(options.pool), "--output-dir", options.output_dir]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.semi_supervised", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--fractions", nargs="+", type=float, default=[0.01, 0.1, 1.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--full-label-methods", nargs="+", choices=METHODS, default=["probe", "ce", "mixing/fine_tuned"],
                        help="The methods run at 100%% labelled (no unlabelled texts there).")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-5, help="Encoder learning rate.")
    parser.add_argument("--head-learning-rate", type=float, default=1e-3, help="The head's learning rate.")
    parser.add_argument("--head-init", choices=("probe", "random"), default="probe",
                        help="probe: the head starts as the linear probe (LP-FT); random: the trainer's own init.")
    parser.add_argument("--lambda", dest="weight", type=float, default=1.0,
                        help="contrastive_weight of SFT+contrastive")
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--labelled-per-batch", type=float, default=0.25,
                        help="mixing's labelled rows per batch, a count or a share (the study's 8 of 32; the "
                             "library's default, unset, is half the batch)")
    parser.add_argument("--max-seq-length", type=int, default=64)
    parser.add_argument("--pool", type=int, default=10000, help="Training rows drawn from SST-2's 67,349.")
    parser.add_argument("--quick", action="store_true",
                        help="Smoke run: TREC, 10%% labelled, seed 0, 8 steps, batch 16, no reference negatives.")
    parser.add_argument("--resume", action="store_true", help="Keep the results already in OUTPUT_DIR/results.json.")
    parser.add_argument("--output-dir", default="benchmark-runs/semi-supervised")
    parser.add_argument("--worker", nargs=2, metavar=("TASK", "FRACTION"), help=argparse.SUPPRESS)
    parser.add_argument("--base-stsb", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--worker-seed", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.quick:
        options.tasks, options.fractions, options.seeds, options.steps, options.batch_size = ["trec"], [0.1], [0], 8, 16
        options.methods = ["probe", "ce", "mixing/fine_tuned", "alternating/fine_tuned"]
    return options


def methods_at(fraction: float, options: argparse.Namespace) -> list[str]:
    """The methods run at a labelled fraction: at 100% there are no unlabelled texts, so only
    `--full-label-methods` (by default the probe, cross-entropy and the default SFT+contrastive: the comparison with
    full supervision)."""
    return [m for m in options.methods if fraction < 1 or m in options.full_label_methods]


def base_stsb_dev() -> float:
    """The base model's STS-B dev Spearman x100 (the reference every change is taken from)."""
    from sentence_transformers import SentenceTransformer

    return stsb_dev(SentenceTransformer(minilm_path()))


def main() -> None:
    options = parse()
    if options.worker:
        task, fraction = options.worker
        result = ({"stsb_dev": base_stsb_dev()} if task == "base"
                  else cell_worker(task, float(fraction), options.worker_seed, options))
        print("RESULT " + json.dumps(result))
        return

    os.makedirs(options.output_dir, exist_ok=True)
    path = os.path.join(options.output_dir, "results.json")
    results = json.load(open(path)) if options.resume and os.path.isfile(path) else []
    done = {(r["task"], r["fraction"], r["method"], r["seed"]) for r in results}

    def keep(new: list[dict]) -> None:
        results.extend(new)
        with open(path, "w") as file:
            json.dump(results, file, indent=1)
        for r in new:
            print(f"  {r['task']} {100 * r['fraction']:g}% {r['method']} seed {r['seed']}: accuracy "
                  f"{r['accuracy']:.2f}, STS-B dev {r['stsb_dev']:.2f}, {r['wall_seconds']:.0f} s wall, "
                  f"{r['cpu_seconds']:.0f} CPU s" + (f" (training {r['train_seconds']:.0f} s)"
                                                     if "train_seconds" in r else ""), file=sys.stderr)

    start = time.perf_counter()
    base = next((r["stsb_dev"] for r in results if r["method"] == "probe"), None)
    if base is None:
        base = run_in_fresh_process("benchmarks.semi_supervised", "base", "0")["stsb_dev"]
    for seed in options.seeds:  # seed-major: an interrupted study has whole seeds of every cell
        for task in options.tasks:
            for fraction in options.fractions:
                missing = [m for m in methods_at(fraction, options) if (task, fraction, m, seed) not in done]
                if missing:
                    keep(run_in_fresh_process("benchmarks.semi_supervised", task, str(fraction), "--worker-seed",
                                              str(seed), "--methods", *missing, "--base-stsb", repr(base),
                                              *worker_arguments(options)))
    chosen = [r for r in results if r["task"] in options.tasks and r["fraction"] in options.fractions
              and r["seed"] in options.seeds and r["method"] in methods_at(r["fraction"], options)]
    rows = summarize(chosen, base)
    with open(os.path.join(options.output_dir, "summary.json"), "w") as file:
        json.dump({"base_stsb_dev": base, "settings": worker_arguments(options), "rows": rows}, file, indent=1)
    print_table(rows, base, options)
    print(f"\n{len(chosen)} results, {time.perf_counter() - start:.0f} s this invocation; "
          f"{os.path.join(options.output_dir, 'results.json')}")
    plot(rows, os.path.join(options.output_dir, "accuracy.png"))
    print(f"plot: {os.path.join(options.output_dir, 'accuracy.png')}")


if __name__ == "__main__":
    main()
