"""Semi-supervised fine-tuning from few labels (the setting SFT+contrastive is for): all-MiniLM-L6-v2
on SST-2 (2 classes) and TREC (6 classes) with 1%, 10% and 100% of the training rows labelled and the remaining
training texts as unlabelled data. Per (task, labelled fraction, method): accuracy mean ± std over the seeds, the
STS-B dev change from the base model (how much of the pretrained representation is kept) and the seconds a run takes.

Methods (`METHODS`), all on the same steps, labelled rows a step, learning rates, maximum length and evaluation:
- `probe`: the frozen base model's embeddings with scikit-learn's logistic regression on the labelled rows (the floor);
- `ce`: cross-entropy only on the labelled rows (`contrastive_weight=0`), `--batch-size` of them a step;
- `mixing/<negatives>`: SFT+contrastive, every batch the same `--batch-size` labelled rows plus `--unlabelled-rows`
  unlabelled ones (`labelled_per_batch`), for `negatives` `fine_tuned` (the source method), `reference` or `both`;
- `alternating/<negatives>`: SFT+contrastive, a labelled batch then an unlabelled batch;
- `mixing/fine_tuned+<consistency>`, `ce+<consistency>`: the same with the consistency term on the unlabelled rows
  (`fixmatch` or `uda`, `--consistency-weight`, `--consistency-threshold`, `--consistency-warmup`);
- `setfit`: SetFit, setfit's own trainer on the labelled rows (`benchmarks.setfit_peer`; the peer, `--setfit-steps`).
The default methods (`DEFAULT_METHODS`): probe, ce, mixing/fine_tuned, mixing/fine_tuned+fixmatch and setfit. At
100% there are no remaining texts, so only `--full-label-methods` run there (probe, ce, mixing/fine_tuned, setfit).
Fine-tuned heads start as the probe (LP-FT, `--head-init probe`).

Data: `benchmarks/data/senteval/` (SentEval's files, see its SOURCE.md). SST-2's train split is phrase-level (67,349
rows); the study draws a fixed pool of `--pool` training rows of it (seed 0) so that the probe and every run see the
same pool; TREC's pool is its whole train split (5,452). Labelled rows: a stratified draw per seed (each class its
share, at least one row). Evaluated on the test splits (SST-2 1,821 sentences, TREC 500); `--evaluation dev` uses
SST-2's dev split instead, for choosing settings without looking at the test set.

Each cell (task, labelled fraction, seed) runs in a fresh process (`benchmarks.common.run_in_fresh_process`): the
base model embeds the cell's labelled rows and the test set once, for the probe and for every method's starting head;
then each method trains from the pretrained weights, seeded alike, and is evaluated. The base model's STS-B dev is
measured once, in its own process. Every result is written to `OUTPUT_DIR/results.json` with the settings it was made
with (`STUDY`, see `benchmarks.study`) as its cell finishes; a rerun with `--resume` skips the runs already there with
the same settings (an interrupted study goes on where it stopped). The table is printed (and saved as
`OUTPUT_DIR/summary.json`) and the plot, accuracy and STS-B change against the labelled fraction, one line per method,
error bars = std over seeds, saved as `OUTPUT_DIR/accuracy.png` (the `bench` extra: matplotlib, scikit-learn and
setfit).

    python -m benchmarks.semi_supervised [--tasks sst2 trec] [--fractions 0.01 0.1 1.0] [--seeds 0 1 2]
                                          [--methods ...] [--steps 100] [--batch-size 32] [--quick] [--resume]

The defaults (2 tasks x 3 fractions x 3 seeds = 18 cells, 66 training runs and 18 probes; 100 steps, 32 labelled
(+ 32 unlabelled) rows a step, lr 2e-5 / head 1e-3, max length 64) are the study the README reports, with its
measured times: on 2 CPU cores a cross-entropy or SetFit run takes about 2 minutes, an SFT+contrastive run about 6,
so the whole study is some hours; `--fractions 0.01` alone is the goal's part. `--quick` (TREC, 10%, seed 0, 8 steps
x batch 16) is the smoke run.
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

from benchmarks.common import minilm_path, process_cpu_seconds, save_figure, stsb_dev
from benchmarks.study import Study

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "senteval")
TASKS = {"sst2": ["0", "1"], "trec": ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]}  # label names, in class order
NEGATIVES = ("fine_tuned", "reference", "both")
CONSISTENCY = ("fixmatch", "uda")
METHODS = ("probe", "ce", *(f"{strategy}/{n}" for strategy in ("mixing", "alternating") for n in NEGATIVES),
           *(f"mixing/fine_tuned+{c}" for c in CONSISTENCY), *(f"ce+{c}" for c in CONSISTENCY), "setfit")
DEFAULT_METHODS = ("probe", "ce", "mixing/fine_tuned", "mixing/fine_tuned+fixmatch", "setfit")
FULL_LABEL_METHODS = ("probe", "ce", "mixing/fine_tuned", "setfit")  # no unlabelled texts at 100%: no consistency


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


def split_for(task: str, fraction: float, seed: int, pool: int, evaluation: str = "test") -> dict[str, Any]:
    """The labelled rows, the unlabelled texts (the rest of the pool) and the rows evaluated (the `evaluation`
    split: `test`, or SST-2's `dev` for choosing settings) of one cell."""
    texts, labels = training_pool(task, pool)
    chosen = stratified_draw(labels, fraction, seed)
    rest = sorted(set(range(len(texts))) - set(chosen))
    splits = read_task(task)
    if evaluation not in splits:
        raise ValueError(f"`--evaluation {evaluation}`: {task} has the splits {sorted(splits)}.")
    test_texts, test_labels = splits[evaluation]
    return {"texts": [texts[i] for i in chosen], "labels": [labels[i] for i in chosen],
            "unlabelled": [texts[i] for i in rest], "test": (test_texts, test_labels)}


def method_settings(method: str) -> dict[str, Any]:
    """A trained method's name as its SFT+contrastive settings: `ce` (λ = 0), `ce+<consistency>`,
    `<strategy>/<negatives>` and `<strategy>/<negatives>+<consistency>`.

    >>> method_settings("mixing/fine_tuned+fixmatch")
    {'strategy': 'mixing', 'negatives': 'fine_tuned', 'consistency': 'fixmatch', 'contrastive': True}
    >>> method_settings("ce")
    {'strategy': 'mixing', 'negatives': 'fine_tuned', 'consistency': 'none', 'contrastive': False}
    """
    base, _, consistency = method.partition("+")
    strategy, _, negatives = base.partition("/")
    return {"strategy": "mixing" if strategy == "ce" else strategy, "negatives": negatives or "fine_tuned",
            "consistency": consistency or "none", "contrastive": strategy != "ce"}


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
    settings = method_settings(method)
    uses_unlabelled = settings["contrastive"] or settings["consistency"] != "none"
    unlabelled = split["unlabelled"] or (split["texts"] if settings["strategy"] == "alternating" else [])
    unlabelled = unlabelled if uses_unlabelled else []
    composition, batch_size = {}, options.batch_size
    if settings["strategy"] == "mixing" and unlabelled:  # the labelled rows of cross-entropy's batch, and more
        composition, batch_size = dict(labelled_per_batch=options.batch_size), options.batch_size + options.unlabelled_rows
    elif settings["strategy"] == "alternating":
        composition = dict(strategy="alternating")
    if settings["consistency"] != "none":
        composition |= dict(consistency=settings["consistency"], consistency_weight=options.consistency_weight,
                            consistency_threshold=options.consistency_threshold,
                            consistency_warmup_steps=math.ceil(options.consistency_warmup * options.steps))
    args = SFTContrastiveConfig(
        output_dir=os.path.join(options.output_dir, "runs", f"{task}-{fraction}-{run_name(method)}-{seed}"),
        max_steps=options.steps, per_device_train_batch_size=batch_size,
        learning_rate=options.learning_rate, head_learning_rate=options.head_learning_rate,
        warmup_steps=math.ceil(0.1 * options.steps), seed=seed, max_seq_length=options.max_seq_length,
        save_strategy="no", report_to="none", disable_tqdm=True, logging_steps=max(1, options.steps // 5),
        dataloader_pin_memory=False, contrastive_weight=options.weight if settings["contrastive"] else 0.0,
        temperature=options.temperature, negatives=settings["negatives"], **composition)
    trainer = SFTContrastiveTrainer(model=minilm_path(), args=args, train_dataset=train,
                                    unlabelled_dataset=Dataset.from_dict({"text": unlabelled}) if unlabelled else None)
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
    shares = [log["pseudo_label_share"] for log in trainer.state.log_history if "pseudo_label_share" in log]
    return {"task": task, "fraction": fraction, "method": method, "seed": seed, "accuracy": accuracy,
            "stsb_dev": stsb_dev(model), "train_seconds": seconds, "labelled": len(train),
            "unlabelled": len(unlabelled), "wall_seconds": time.perf_counter() - began,
            "cpu_seconds": process_cpu_seconds() - began_cpu,
            "pseudo_label_share": statistics.mean(shares) if shares else None}


def setfit_run(task: str, fraction: float, seed: int, split: dict[str, Any], options: argparse.Namespace) -> dict:
    """SetFit (setfit's own trainer, `benchmarks.setfit_peer`) on the cell's labelled rows: the same steps, pairs
    of the batch size, learning rate, maximum length and seed as the other runs (`--setfit-steps` sets its own)."""
    from benchmarks.setfit_peer import setfit_accuracy, train_setfit

    began, began_cpu = time.perf_counter(), process_cpu_seconds()
    steps = options.steps if options.setfit_steps is None else options.setfit_steps or None
    model, seconds = train_setfit(minilm_path(), split["texts"], split["labels"], steps=steps,
                                  batch_size=options.batch_size, learning_rate=options.learning_rate,
                                  max_seq_length=options.max_seq_length, seed=seed,
                                  output_dir=os.path.join(options.output_dir, "runs", f"{task}-{fraction}-setfit-{seed}"))
    return {"task": task, "fraction": fraction, "method": "setfit", "seed": seed,
            "accuracy": setfit_accuracy(model, *split["test"]), "stsb_dev": stsb_dev(model.model_body),
            "train_seconds": seconds, "labelled": len(split["texts"]), "unlabelled": 0,
            "wall_seconds": time.perf_counter() - began, "cpu_seconds": process_cpu_seconds() - began_cpu}


def run_name(method: str) -> str:
    return method.replace("/", "-").replace("+", "-")


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
    split = split_for(task, fraction, seed, options.pool, options.evaluation)
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
        if method == "setfit":
            results.append(setfit_run(task, fraction, seed, split, options))
        elif method != "probe":
            results.append(train_run(task, fraction, method, seed, split, probe, options))
        gc.collect()
    return results


def summarize(results: list[dict], base: float) -> list[dict]:
    """One row per (task, fraction, method): accuracy and STS-B dev change from `base` (mean and sample std over the
    seeds), and the mean wall seconds of a run (training, evaluation and, for the probe, the embedding)."""
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
                     "seconds": statistics.mean(r.get("wall_seconds", 0.0) for r in runs),
                     "pseudo_label_share": mean_of_known(r.get("pseudo_label_share") for r in runs),
                     "labelled": runs[0]["labelled"], "unlabelled": runs[0]["unlabelled"]})
    return rows


def mean_of_known(values: Any) -> float | None:
    """The mean of the values that are not `None` (`None` if none is).

    >>> mean_of_known([None, 0.25, 0.75]), mean_of_known([None])
    (0.5, None)
    """
    known = [v for v in values if v is not None]
    return statistics.mean(known) if known else None


def print_table(rows: list[dict], base: float, settings: dict[str, Any]) -> None:
    import torch

    print(f"\nSemi-supervised fine-tuning, all-MiniLM-L6-v2, settings {json.dumps(settings)}, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads; base STS-B dev {base:.2f}")
    print("| task | labelled | method | labelled rows | unlabelled rows | accuracy % (mean ± std) | "
          "STS-B dev change (mean ± std) | pseudo-labelled rows | s / run |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        share = "–" if r.get("pseudo_label_share") is None else f"{100 * r['pseudo_label_share']:.1f}%"
        print(f"| {r['task']} | {100 * r['fraction']:g}% | {r['method']} | {r['labelled']:,} | {r['unlabelled']:,} | "
              f"{r['accuracy']:.2f} ± {r['accuracy_std']:.2f} | "
              f"{r['stsb_change']:+.2f} ± {r['stsb_change_std']:.2f} | {share} | {r['seconds']:.0f} |")


def plot(rows: list[dict], path: str) -> None:
    """`figure_for(rows)` saved as a PNG at `path`."""
    save_figure(figure_for(rows), path)


def figure_for(rows: list[dict]) -> Any:
    """Accuracy (top) and STS-B dev change (bottom) against the labelled fraction, one column per task, one line per
    method, error bars = std over the seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in rows})
    figure, axes = plt.subplots(2, len(tasks), figsize=(6 * len(tasks), 8), squeeze=False)
    for column, task in enumerate(tasks):
        for row, (key, label) in enumerate((("accuracy", "test accuracy (%)"),
                                            ("stsb_change", "STS-B dev change (Spearman x100)"))):
            axis = axes[row][column]
            for method in METHODS:
                points = sorted((r["fraction"], r[key], r[f"{key}_std"]) for r in rows
                                if r["task"] == task and r["method"] == method)
                if points:
                    x, y, error = zip(*points)
                    axis.errorbar([100 * f for f in x], y, yerr=error, marker="o", capsize=3, label=method,
                                  linestyle="--" if method in ("probe", "setfit") else "-")
            axis.set_xscale("log")
            axis.set_xlabel("labelled training rows (%)")
            axis.set_ylabel(label)
            axis.set_title(task.upper())
            axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    figure.tight_layout()
    return figure


# What a run's result depends on beside its cell and method: stored with each result, passed on to each worker.
STUDY = Study("benchmarks.semi_supervised",
              ("steps", "batch_size", "unlabelled_rows", "learning_rate", "head_learning_rate", "head_init", "weight",
               "temperature", "consistency_weight", "consistency_threshold", "consistency_warmup", "setfit_steps",
               "max_seq_length", "pool", "evaluation"), flags={"weight": "--lambda"})


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.semi_supervised", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--fractions", nargs="+", type=float, default=[0.01, 0.1, 1.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(DEFAULT_METHODS))
    parser.add_argument("--full-label-methods", nargs="+", choices=METHODS, default=list(FULL_LABEL_METHODS),
                        help="The methods run at 100%% labelled (no unlabelled texts there).")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32,
                        help="Labelled rows a step (cross-entropy's and SetFit's batch: SetFit's are pairs)")
    parser.add_argument("--unlabelled-rows", type=int, default=32,
                        help="Unlabelled rows added to each batch of a method that uses them (mixing)")
    parser.add_argument("--learning-rate", type=float, default=2e-5, help="Encoder learning rate.")
    parser.add_argument("--head-learning-rate", type=float, default=1e-3, help="The head's learning rate.")
    parser.add_argument("--head-init", choices=("probe", "random"), default="probe",
                        help="probe: the head starts as the linear probe (LP-FT); random: the trainer's own init.")
    parser.add_argument("--lambda", dest="weight", type=float, default=1.0,
                        help="contrastive_weight of SFT+contrastive")
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--consistency-weight", type=float, default=1.0, help="λ_u of the consistency term")
    parser.add_argument("--consistency-threshold", type=float, default=None,
                        help="Confidence a pseudo-label needs (default: the term's, 0.95 FixMatch / 0.8 UDA)")
    parser.add_argument("--consistency-warmup", type=float, default=0.0,
                        help="Share of the steps over which the consistency weight ramps up from 0")
    parser.add_argument("--setfit-steps", type=int, default=None,
                        help="SetFit's optimizer steps (default: --steps; 0: SetFit's own budget, one epoch of pairs)")
    parser.add_argument("--max-seq-length", type=int, default=64)
    parser.add_argument("--pool", type=int, default=10000, help="Training rows drawn from SST-2's 67,349.")
    parser.add_argument("--evaluation", choices=("test", "dev"), default="test",
                        help="The split accuracy is measured on: test, or SST-2's dev for choosing settings.")
    parser.add_argument("--quick", action="store_true",
                        help="Smoke run: TREC, 10%% labelled, seed 0, 8 steps, batch 16, probe, ce, mixing and "
                             "mixing with FixMatch.")
    parser.add_argument("--resume", action="store_true",
                        help="Keep the results already in OUTPUT_DIR/results.json that were made with these "
                             "settings.")
    parser.add_argument("--output-dir", default="benchmark-runs/semi-supervised")
    parser.add_argument("--worker", nargs=2, metavar=("TASK", "FRACTION"), help=argparse.SUPPRESS)
    parser.add_argument("--base-stsb", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--worker-seed", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.quick:
        options.tasks, options.fractions, options.seeds, options.steps, options.batch_size = ["trec"], [0.1], [0], 8, 16
        options.unlabelled_rows = 16
        options.methods = ["probe", "ce", "mixing/fine_tuned", "mixing/fine_tuned+fixmatch"]
    return options


def methods_at(fraction: float, options: argparse.Namespace) -> list[str]:
    """The methods run at a labelled fraction: at 100% there are no unlabelled texts, so only
    `--full-label-methods` (by default the probe, cross-entropy, SFT+contrastive and SetFit: the comparison with
    full supervision)."""
    return [m for m in options.methods if fraction < 1 or m in options.full_label_methods]


def base_stsb_dev() -> float:
    """The base model's STS-B dev Spearman x100 (the reference every change is taken from)."""
    from sentence_transformers import SentenceTransformer

    return stsb_dev(SentenceTransformer(minilm_path()))


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)
    if options.worker:
        task, fraction = options.worker
        result = ({"stsb_dev": base_stsb_dev()} if task == "base"
                  else cell_worker(task, float(fraction), options.worker_seed, options))
        print("RESULT " + json.dumps(result))
        return

    results = STUDY.open_results(options)
    done = {(r["task"], r["fraction"], r["method"], r["seed"]) for r in results.reusable}

    def keep(new: list[dict]) -> None:
        results.add(new)
        for r in new:
            print(f"  {r['task']} {100 * r['fraction']:g}% {r['method']} seed {r['seed']}: accuracy "
                  f"{r['accuracy']:.2f}, STS-B dev {r['stsb_dev']:.2f}, {r['wall_seconds']:.0f} s wall, "
                  f"{r['cpu_seconds']:.0f} CPU s" + (f" (training {r['train_seconds']:.0f} s)"
                                                     if "train_seconds" in r else "")
                  + (f", {100 * r['pseudo_label_share']:.1f}% of unlabelled rows pseudo-labelled"
                     if r.get("pseudo_label_share") is not None else ""), file=sys.stderr)

    start = time.perf_counter()
    base = next((r["stsb_dev"] for r in results.stored if r["method"] == "probe"), None)  # whatever the settings
    if base is None:
        base = STUDY.run_worker(options, "base", "0")["stsb_dev"]
    for seed in options.seeds:  # seed-major: an interrupted study has whole seeds of every cell
        for task in options.tasks:
            for fraction in options.fractions:
                missing = [m for m in methods_at(fraction, options) if (task, fraction, m, seed) not in done]
                if missing:
                    keep(STUDY.run_worker(options, task, str(fraction), "--worker-seed", str(seed), "--methods",
                                          *missing, "--base-stsb", repr(base)))
    chosen = [r for r in results.reusable if r["task"] in options.tasks and r["fraction"] in options.fractions
              and r["seed"] in options.seeds and r["method"] in methods_at(r["fraction"], options)]
    rows = summarize(chosen, base)
    with open(os.path.join(options.output_dir, "summary.json"), "w") as file:
        json.dump({"base_stsb_dev": base, "settings": results.settings, "rows": rows}, file, indent=1)
    print_table(rows, base, results.settings)
    print(f"\n{len(chosen)} results, {time.perf_counter() - start:.0f} s this invocation; {results.path}")
    plot(rows, os.path.join(options.output_dir, "accuracy.png"))
    print(f"plot: {os.path.join(options.output_dir, 'accuracy.png')}")


if __name__ == "__main__":
    main()
