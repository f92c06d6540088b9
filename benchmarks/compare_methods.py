"""Which method for which task type: unsupervised SimCSE, supervised SimCSE, DeCLUTR and SupCon, each trained from
all-MiniLM-L6-v2 on one budget, then the base model and each result evaluated on semantic similarity (STS-B dev and
test; the full STS suite with `--sts-dir`) and on the SentEval transfer suite (a linear probe on the frozen
embeddings: MR, CR, SUBJ, MPQA, TREC, SST-2, MRPC).

The budget: the same optimizer steps and the same texts per step for every method, one learning rate (common_args'
3e-5) with one schedule (linear warm-up over the first 10% of the steps, then linear decay to 0), AdamW without weight
decay, one seed, fp32. A *text* is one sequence the encoder embeds in a step (each dropout view counts: it costs a
forward and a backward pass and is one row of the similarity matrix), so `--texts-per-step` is split into batch rows
by what each method embeds per row (`TEXTS_PER_ROW`; it must be a multiple of 12):

- `simcse-unsup` (Gao et al., 2021): wiki1m sentences (`hf_contrastive.resources.read_wiki_sentences`), two dropout
  views of each, InfoNCE at temperature 0.05, max length 32 tokens: 2 texts a row;
- `simcse-sup`: the shipped NLI triplets (`benchmarks/data/nli_triplets.csv.gz`: premise, entailment hypothesis,
  contradiction hypothesis as hard negative), temperature 0.05, max length 32: 3 texts a row;
- `declutr` (Giorgi et al., 2021): the 64 shipped long documents (`benchmarks.objectives.long_documents`), 2 anchor
  spans of each with 2 positive spans per anchor, spans of 32-128 tokens (the benchmark suite's CPU scaling of the
  paper's 32-512), temperature 0.05, contrastive term only (no MLM, as the suite): 6 texts a row; the 64 documents
  repeat once the steps outrun them, with new spans each epoch;
- `supcon` (Khosla et al., 2020): the same NLI triplets as supervised SimCSE; each premise is a class whose members
  are the premise and the hypotheses it entails (rows that share a premise share the class), each text in two
  dropout views (`SupConLoss(num_views=2)`, temperature 0.07, every view an anchor, max length 32): 4 texts a row, 3
  positives per anchor. Why these classes and not NLI's three labels: SupCon learns an embedding in which a class is
  a cluster, and a class must be a property of the text embedded. The NLI labels are properties of a *pair*: as
  classes of hypotheses alone they cluster all "entailment" (or "contradiction") hypotheses together whatever they
  say, which teaches the hypothesis-only cues NLI data is known for (Gururangan et al., 2018) rather than meaning.
  The sentence-level supervision NLI gives is "this hypothesis says what its premise says" (the entailment label),
  which is the positive relation of supervised SimCSE; SupCon's own contribution on it is its loss with several
  positives per anchor (the other views of the class), every view an anchor. The contradiction hypotheses are not
  used: SupCon has no per-anchor hard negative, only other classes.

Each training run is a fresh process (`benchmarks.common.run_in_fresh_process`) so that its peak memory (taken after
training, before evaluation) is its own; the base model is evaluated in a fresh process too. Evaluation, the same for
every model: the model's full length (256 tokens); STS-B dev and test Spearman x100 of cosine (the shipped copy,
`hf_contrastive.evaluation.sts_suite.load_stsb_sets`); the transfer suite
(`hf_contrastive.evaluation.evaluate_transfer_suite` on `benchmarks/data/senteval`, its protocol in
`hf_contrastive/evaluation/transfer.py`) with every classifier fit on at most `--max-train-rows` rows (a stratified
sample of SST-2's 67,349 training phrases, TREC's and MRPC's train splits, and 2,222 rows of each 10-fold task at the
default 2,000; the one deviation from the suite's protocol, said in the printed header; `--max-train-rows 0` runs the
protocol on all rows); with `--sts-dir DIR`, the STS suite (STS12-16, STS-B, SICK-R from local files, see
`hf_contrastive.evaluation.evaluate_sts_suite`) and its average.

Output: one Markdown table (rows: base and the methods; columns: STS-B dev and test, the STS suite's tasks and
average when run, each transfer task and the transfer average, training seconds and peak RSS), `OUTPUT_DIR/results.json`
(written as each run finishes; `--resume` keeps the runs there that were made with the same settings) and the grouped
bar chart `OUTPUT_DIR/compare_methods.png` (matplotlib, the `bench` extra).

    python -m benchmarks.compare_methods [--methods simcse-unsup simcse-sup declutr supcon] [--steps N]
        [--texts-per-step T] [--max-train-rows R] [--transfer-tasks MR CR ...] [--sts-dir DIR] [--quick] [--resume]

Default: 40 steps x 96 texts (batch rows: SimCSE unsup. 48, sup. 32 triplets, DeCLUTR 16 documents, SupCon 24
pairs), every transfer classifier fit on at most 2,000 rows. Measured on 2 quiet CPU cores (2026-11-28): 1,992 s for
the five models — training 111 / 84 / 478 / 109 s (SimCSE unsup., sup., DeCLUTR, SupCon), the transfer suite
170-201 s and STS-B dev + test 28-33 s per model; with 5,000-row fits on SST-2/TREC/MRPC and the 10-fold tasks
whole it took 3,139 s. The printed per-run wall times show what each run took.
`--quick` is the smoke run (3 steps x 24 texts, transfer CR and TREC only, at most 500 train rows).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

from benchmarks.common import common_args, minilm_path, our_config, process_cpu_seconds, save_figure, train_and_measure
from benchmarks.study import Study

SENTEVAL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "senteval")
BASE = "base"
# Sequences a method embeds per batch row (see the module docstring); the batch is texts per step / this.
TEXTS_PER_ROW = {"simcse-unsup": 2, "simcse-sup": 3, "declutr": 6, "supcon": 4}
METHODS = tuple(TEXTS_PER_ROW)
TITLES = {BASE: "base (all-MiniLM-L6-v2)", "simcse-unsup": "SimCSE unsup. (wiki1m)",
          "simcse-sup": "SimCSE sup. (NLI triplets)", "declutr": "DeCLUTR (long documents)",
          "supcon": "SupCon (NLI: premise = class)"}
# One schedule for every method: linear warm-up over 10% of the steps, then linear decay; no weight decay (DeCLUTR's
# config would otherwise use 0.1).
SCHEDULE = dict(lr_scheduler_type="linear", warmup_steps=0.1, weight_decay=0.0)
SUPCON = dict(temperature=0.07, num_views=2)
MAX_SEQ_LENGTH = 32  # training length of SimCSE (objectives.simcse) and SupCon; DeCLUTR's spans are 32-128 tokens
EVAL_MAX_SEQ_LENGTH = 256  # every model is evaluated at all-MiniLM-L6-v2's full length
DEFAULT_STEPS = 40
DEFAULT_TEXTS_PER_STEP = 96
DEFAULT_MAX_TRAIN_ROWS = 2000
QUICK = dict(steps=3, texts_per_step=24, max_train_rows=500, transfer_tasks=["CR", "TREC"])
# What makes two runs comparable (a result made with other settings is not resumed), passed on to each worker.
STUDY = Study("benchmarks.compare_methods",
              ("steps", "texts_per_step", "seed", "max_train_rows", "transfer_tasks", "sts_dir"))


def batch_sizes(texts_per_step: int, methods: tuple[str, ...] = METHODS) -> dict[str, int]:
    """Each method's batch rows for `texts_per_step` texts a step; `ValueError` unless every method divides it."""
    uneven = {m: TEXTS_PER_ROW[m] for m in methods if texts_per_step % TEXTS_PER_ROW[m]}
    if texts_per_step < 1 or uneven:
        step = math.lcm(*TEXTS_PER_ROW.values())
        raise ValueError(f"`texts_per_step` must be a positive multiple of {step} (texts per row: {TEXTS_PER_ROW}), "
                         f"got {texts_per_step}.")
    return {m: texts_per_step // TEXTS_PER_ROW[m] for m in methods}


def budget(steps: int, texts_per_step: int, methods: tuple[str, ...] = METHODS) -> dict[str, int]:
    """Texts each method embeds over the run: steps x batch rows x texts per row (equal for all, by construction)."""
    return {m: steps * rows * TEXTS_PER_ROW[m] for m, rows in batch_sizes(texts_per_step, methods).items()}


def premise_classes(premises: list[str]) -> list[int]:
    """SupCon's class of each row: the index of the first row with the same premise.

    >>> premise_classes(["a", "b", "a", "c"])
    [0, 1, 0, 3]
    """
    first: dict[str, int] = {}
    return [first.setdefault(premise, row) for row, premise in enumerate(premises)]


def supcon_trainer(common: dict[str, Any]) -> Any:
    """`SupConTrainer` on the NLI triplets' (premise, entailment hypothesis) columns, each premise a class (see the
    module docstring)."""
    from datasets import Dataset

    from benchmarks.objectives import nli_triplets
    from hf_contrastive import SupConConfig, SupConTrainer

    triplets = nli_triplets(common["max_steps"] * common["per_device_train_batch_size"])
    data = Dataset.from_dict({"premise": triplets["sent0"], "entailment": triplets["sent1"],
                              "label": premise_classes(triplets["sent0"])})
    args = our_config(SupConConfig, common, max_seq_length=MAX_SEQ_LENGTH, **SUPCON)
    return SupConTrainer(model=minilm_path(), args=args, train_dataset=data)


def build(method: str, common: dict[str, Any]) -> Any:
    """The method's trainer on `common`: our trainers, as the benchmark suite builds them (SupCon's data above)."""
    from benchmarks import objectives

    if method == "supcon":
        return supcon_trainer(common)
    if method == "declutr":
        return objectives.declutr("ours", common)
    return objectives.simcse("ours", common, supervised=method == "simcse-sup")


def evaluate(model: Any, options: argparse.Namespace) -> dict[str, Any]:
    """STS-B dev/test, the transfer suite and (with `sts_dir`) the STS suite, at the model's full length; scores
    x100, with each suite's seconds."""
    from hf_contrastive.evaluation import evaluate_sts_suite, evaluate_transfer_suite
    from hf_contrastive.evaluation.sts_suite import evaluate_sts_data, load_stsb_sets

    model.max_seq_length = EVAL_MAX_SEQ_LENGTH
    model.eval()
    start = time.perf_counter()
    stsb = evaluate_sts_data(model, load_stsb_sets(("dev", "test")))
    scores: dict[str, Any] = {"stsb": {split: result.spearman for split, result in zip(("dev", "test"),
                                                                                         stsb.results)},
                              "stsb_seconds": time.perf_counter() - start}
    transfer = evaluate_transfer_suite(model, tasks=options.transfer_tasks, data_dir=SENTEVAL,
                                       max_train_rows=options.max_train_rows or None)  # the suite's seed (0)
    scores |= {"transfer": transfer.scores, "transfer_average": transfer.average, "transfer_seconds": transfer.seconds,
               "transfer_protocol": transfer.aggregation}
    if options.sts_dir:
        start = time.perf_counter()
        suite = evaluate_sts_suite(model, data_dir=options.sts_dir)
        scores |= {"sts_suite": suite.scores, "sts_average": suite.average,
                   "sts_suite_seconds": time.perf_counter() - start}
    return scores


def worker(method: str, options: argparse.Namespace) -> dict[str, Any]:
    """Train `method` (nothing for `base`) in this process, then evaluate it."""
    from transformers import set_seed

    set_seed(options.seed)
    if method == BASE:
        from sentence_transformers import SentenceTransformer

        model, measured = SentenceTransformer(minilm_path(), device="cpu"), {}
    else:
        rows = batch_sizes(options.texts_per_step, (method,))[method]
        output_dir = os.path.join(options.output_dir, "runs", method)
        common = common_args(output_dir, options.steps, rows, options.seed) | SCHEDULE
        trainer = build(method, common)
        measured = train_and_measure(trainer, options.steps * rows) | {"batch_rows": rows}
        measured |= {"seconds_per_step": measured["seconds"] / options.steps,
                     "cpu_seconds_per_step": measured["cpu_seconds"] / options.steps}
        model = trainer.model
    start, cpu = time.perf_counter(), process_cpu_seconds()
    scores = evaluate(model, options)
    evaluation = {"eval_seconds": time.perf_counter() - start, "eval_cpu_seconds": process_cpu_seconds() - cpu}
    return {"method": method} | measured | scores | evaluation


def score_columns(results: list[dict]) -> list[tuple[str, Any]]:
    """`(column title, getter)` of every score the results hold, in table order: STS-B dev and test, the STS suite's
    tasks and average, the transfer tasks and average."""
    columns: list[tuple[str, Any]] = [("STS-B dev", lambda r: r["stsb"]["dev"]),
                                      ("STS-B test", lambda r: r["stsb"]["test"])]
    first = results[0]
    if "sts_suite" in first:
        columns += [(task, lambda r, task=task: r["sts_suite"][task]) for task in first["sts_suite"]]
        columns.append(("STS avg", lambda r: r["sts_average"]))
    columns += [(task, lambda r, task=task: r["transfer"][task]) for task in first["transfer"]]
    columns.append(("transfer avg", lambda r: r["transfer_average"]))
    return columns


def ordered(results: list[dict]) -> list[dict]:
    """The results in table order: the base model, then the methods in `METHODS` order."""
    order = (BASE, *METHODS)
    return sorted(results, key=lambda r: order.index(r["method"]))


def table(results: list[dict]) -> str:
    """The Markdown table: one row per model, its scores (x100, 2 decimals), training seconds and peak RSS MiB
    (`-` for the base model, which is not trained)."""
    results = ordered(results)
    columns = score_columns(results)
    lines = ["| method | " + " | ".join(title for title, _ in columns) + " | train s | peak RSS MiB |",
             "|---|" + "---:|" * (len(columns) + 2)]
    for r in results:
        cost = (f"{r['seconds']:.0f} | {r['peak_memory_mib']:,.0f}" if "seconds" in r else "- | -")
        lines.append(f"| {TITLES[r['method']]} | " + " | ".join(f"{get(r):.2f}" for _, get in columns)
                     + f" | {cost} |")
    return "\n".join(lines)


def header(options: argparse.Namespace) -> str:
    """The settings the table was made with, protocol deviations included."""
    import torch

    rows = batch_sizes(options.texts_per_step)
    batches = ", ".join(f"{m} {rows[m]} x {TEXTS_PER_ROW[m]}" for m in METHODS)
    lr = common_args("", 1, 1, 0)["learning_rate"]
    cap = (f"deviation from SentEval's protocol: every classifier is fit on a stratified sample of at most "
           f"{options.max_train_rows:,} rows (SST-2's train has 67,349, TREC's 5,452, MRPC's 4,076; a 10-fold task "
           f"keeps {options.max_train_rows * 10 // 9:,} of its 3,775-10,662)"
           if options.max_train_rows else "every classifier fit on all its training rows (SentEval's protocol)")
    return (f"Method comparison, all-MiniLM-L6-v2, fp32, torch {torch.__version__}, {torch.get_num_threads()} CPU "
            f"threads. Budget: {options.steps} steps x {options.texts_per_step} texts (batch rows x texts per row: "
            f"{batches}), lr {lr:g}, linear warm-up over 10% of the steps then linear decay to 0, AdamW, weight decay "
            f"0, seed {options.seed}; max length {MAX_SEQ_LENGTH} tokens (SimCSE, SupCon), DeCLUTR spans 32-128 "
            f"tokens. Evaluation at {EVAL_MAX_SEQ_LENGTH} tokens: Spearman x100 of cosine (STS), accuracy x100 of "
            f"logistic regression on frozen embeddings (transfer: {', '.join(options.transfer_tasks or ['all 7'])}); "
            f"{cap}." + ("" if options.sts_dir else " STS suite not run (no --sts-dir): no STS average."))


def plot(results: list[dict], path: str) -> None:
    """`figure_for(results)` saved as a PNG at `path`."""
    save_figure(figure_for(results), path)


def figure_for(results: list[dict]) -> Any:
    """Grouped bars: one group per score column (tasks and averages), one bar per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    results = ordered(results)
    columns = score_columns(results)
    width = 0.8 / len(results)
    positions = np.arange(len(columns))
    figure, axis = plt.subplots(figsize=(max(8.0, 1.1 * len(columns)), 4.8))
    for i, r in enumerate(results):
        axis.bar(positions + (i - (len(results) - 1) / 2) * width, [get(r) for _, get in columns], width,
                 label=TITLES[r["method"]])
    axis.set_xticks(positions, [title for title, _ in columns], rotation=30, ha="right")
    axis.set_xlabel("task (STS: Spearman x100; transfer: accuracy x100)")
    axis.set_ylabel("score x100")
    axis.set_title("all-MiniLM-L6-v2 fine-tuned with each method on one budget")
    axis.set_ylim(bottom=max(0.0, min(get(r) for r in results for _, get in columns) - 10))
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare_methods", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="Optimizer steps of every method.")
    parser.add_argument("--texts-per-step", type=int, default=DEFAULT_TEXTS_PER_STEP,
                        help="Texts embedded per step by every method (a multiple of 12).")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-train-rows", type=int, default=DEFAULT_MAX_TRAIN_ROWS,
                        help="Fit every transfer classifier on at most this many rows (a stratified sample); 0: all "
                             "(the protocol).")
    parser.add_argument("--transfer-tasks", nargs="+", help="Transfer tasks (default: all 7).")
    parser.add_argument("--sts-dir", help="Local files of the STS suite (STS12-16, STS-B, SICK-R) to run it too.")
    parser.add_argument("--quick", action="store_true",
                        help="Smoke run: 3 steps x 24 texts, transfer CR and TREC, at most 500 train rows.")
    parser.add_argument("--resume", action="store_true", help="Keep the runs in OUTPUT_DIR/results.json made with "
                                                              "the same settings.")
    parser.add_argument("--output-dir", default="benchmark-runs/compare-methods")
    parser.add_argument("--worker", choices=(BASE, *METHODS), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.quick:
        for name, value in QUICK.items():
            setattr(options, name, value)
    if options.steps < 1:
        raise ValueError(f"`--steps` must be >= 1, got {options.steps}.")
    if options.max_train_rows < 0 or options.max_train_rows == 1:
        raise ValueError(f"`--max-train-rows` must be 0 (all rows) or >= 2, got {options.max_train_rows}.")
    batch_sizes(options.texts_per_step)  # fails early on a budget some method cannot split
    return options


def main() -> None:
    options = parse()
    if options.worker:
        print("RESULT " + json.dumps(worker(options.worker, options)))
        return
    results = STUDY.open_results(options)
    print(header(options))
    start = time.perf_counter()
    for method in (BASE, *options.methods):
        if any(r["method"] == method for r in results.reusable):
            continue
        began = time.perf_counter()
        result = STUDY.run_worker(options, method)
        result["wall_seconds"] = time.perf_counter() - began
        results.add([result])
        print(f"  {method}: {result['wall_seconds']:.0f} s wall"
              + (f", training {result['seconds_per_step']:.2f} s/step ({result['cpu_seconds_per_step']:.2f} CPU s)"
                 if "seconds_per_step" in result else "")
              + f", evaluation {result['eval_seconds']:.0f} s ({result['eval_cpu_seconds']:.0f} CPU s; STS-B "
              f"{result['stsb_seconds']:.0f} s, transfer {result['transfer_seconds']:.0f} s)", file=sys.stderr)
    chosen = [r for r in results.reusable if r["method"] in (BASE, *options.methods)]
    print(table(chosen))
    print(f"\n{len(chosen)} models, {time.perf_counter() - start:.0f} s this invocation; {results.path}")
    plot(chosen, os.path.join(options.output_dir, "compare_methods.png"))
    print(f"plot: {os.path.join(options.output_dir, 'compare_methods.png')}")


if __name__ == "__main__":
    main()
