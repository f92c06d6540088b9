"""`hf-contrastive train CONFIG.yaml [--FIELD VALUE ...] | tune CONFIG.yaml --n-trials N | eval MODEL | push DIR REPO |
demo`: the parsing and the dispatch; the work is the library's (`config_file`, `evaluation`, `hub`, `demo`). An
error is one line naming what to fix (exit code 2), its traceback kept with `--debug`."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any

from . import __version__
from .errors import EXTRAS, MissingExtraError

DESCRIPTION = """Contrastive fine-tuning of text-embedding models (SimCSE, DeCLUTR, SFT+contrastive, SupCon) with
the HuggingFace Trainer, and their release to the Hub."""
EXAMPLES = """examples:
  hf-contrastive demo                                  a few minutes of SimCSE on a CPU, offline
  hf-contrastive train examples/cpu/simcse_unsup.yaml --max_steps 100 --output_dir out
  hf-contrastive train --method declutr --help         the fields of a method's config, with their defaults
  hf-contrastive tune examples/cpu/simcse_unsup.yaml --n-trials 20
  hf-contrastive eval out --suite sts transfer
  hf-contrastive push out user/my-model --private

`hf-contrastive COMMAND --help` describes a command. --debug (or HF_CONTRASTIVE_DEBUG=1) shows the full traceback
of an error."""
DEBUG_ENV = "HF_CONTRASTIVE_DEBUG"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help with the description and examples as written and each option's default, where it has one that its help
    does not already give."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, [], argparse.SUPPRESS) or "default" in text or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def train(config: str, overrides: list[str], resume: bool) -> str:
    """`hf-contrastive train CONFIG.yaml [--FIELD VALUE ...]`: the run of the config (`config_file.load_run`),
    trained (with `resume`, from the latest complete checkpoint in the output dir) and saved; returns the output
    dir."""
    from .config_file import load_run

    run = load_run(config, overrides)
    trainer = run.build_trainer()
    trainer.train(resume_from_checkpoint=True if resume else None)
    trainer.save_model(run.config.args.output_dir)
    return run.config.args.output_dir


def tune(config: str, overrides: list[str], n_trials: int, search_space: str | None, output: str) -> None:
    """`hf-contrastive tune CONFIG.yaml --n-trials N [--search-space space.yaml] [--output best.yaml]`: the
    Trainer's `hyperparameter_search` (optuna) over the config's run, each trial from a fresh model; prints the
    trials and writes the best as a config `train` takes (the command-line overrides written in as given)."""
    from .config_file import load_run
    from .tuning import search, trials_table, write_best_config

    run = load_run(config, overrides)
    model = run.config.run.model
    result = search(run.build_trainer(model=None, model_init=lambda: model), n_trials, space=search_space)
    print(trials_table(result))
    write_best_config(config, {**override_values(overrides, run.config), **result.best}, output)
    print(f"Best config written to {output}: hf-contrastive train {output}")


def override_values(overrides: list[str], config) -> dict[str, Any]:
    """The values the command-line `overrides` gave the parsed `config` (a `config_file.RunConfig`), by field name
    (`--output-dir` and `--no_X` switches included, enums as their values), for the best config's YAML."""
    from enum import Enum

    values: dict[str, Any] = {}
    parts = [part for part in (config.args, config.run, config.data) if part is not None]
    for item in overrides:
        name = item[2:].partition("=")[0].replace("-", "_") if item.startswith("--") else ""
        for field_name in (name, name[3:] if name.startswith("no_") else None):
            part = next((part for part in parts if field_name and hasattr(part, field_name)), None)
            if part is not None:
                value = getattr(part, field_name)
                values[field_name] = value.value if isinstance(value, Enum) else value
                break
    return values


def eval_stsb(args: argparse.Namespace) -> None:
    """`hf-contrastive eval MODEL`: the shipped STS-B splits and any `--sts-file`, one Spearman x 100 each."""
    from sentence_transformers import SentenceTransformer

    from .evaluation.sts_suite import evaluate_sts_data, load_stsb_sets

    if args.sts_dir or args.transfer_dir or args.tasks or args.max_train_rows is not None:
        raise ValueError("`--sts-dir`, `--transfer-dir`, `--tasks` and `--max-train-rows` apply to `--suite` only.")
    data = load_stsb_sets(["dev", "test"] if args.splits is None else args.splits, args.sts_file)
    result = evaluate_sts_data(SentenceTransformer(args.model), data)
    print(f"\n{args.model}: Spearman (cosine) x 100")
    print(result.table(average=False))


def check_suite_arguments(suites: list[str], args: argparse.Namespace) -> None:
    """`--sts-dir` goes with the STS suite, `--transfer-dir` and `--max-train-rows` with the transfer suite."""
    if args.sts_dir and "sts" not in suites:
        raise ValueError("`--sts-dir` applies to the `sts` suite only.")
    if (args.transfer_dir or args.max_train_rows is not None) and "transfer" not in suites:
        raise ValueError("`--transfer-dir` and `--max-train-rows` apply to the `transfer` suite only.")


def eval_suite(args: argparse.Namespace) -> None:
    """`hf-contrastive eval MODEL --suite sts transfer`: each suite's table (every task's data is loaded before the
    model)."""
    from .evaluation.suites import evaluate_suites, load_suites

    if args.sts_file or args.splits is not None:
        raise ValueError("`--sts-file` and `--splits` do not apply to `--suite` (use `--sts-dir`, `--transfer-dir` and "
                         "`--tasks`).")
    check_suite_arguments(args.suite, args)
    data = load_suites(args.suite, args.tasks, sts_dir=args.sts_dir, transfer_dir=args.transfer_dir)
    for result in evaluate_suites(args.model, data, max_train_rows=args.max_train_rows):
        print(f"\n{args.model}: {result.title}")
        print(result.table())


def push_model(args: argparse.Namespace):
    """`hf-contrastive push`: the release is written to MODEL_DIR/release (with MODEL_DIR's classifier/ and its
    hf_contrastive card re-rendered for the release, if any; with `--evaluate`, the card carries the suites' scores
    of the release and of its base model), then uploaded in one commit. The token comes from `HF_TOKEN` or
    `hf auth login`, never from the command line."""
    from sentence_transformers import SentenceTransformer

    from .hub.push import RELEASE_FOLDER, prepare_release, push_release, release_card
    from .modeling.classifier import CLASSIFIER_FOLDER, ClassificationHead

    if not os.path.isfile(os.path.join(args.model_dir, "modules.json")):
        raise ValueError(f"{args.model_dir} is not a saved SentenceTransformer folder (no modules.json).")
    classifier = os.path.join(args.model_dir, CLASSIFIER_FOLDER)
    card = release_card(args.model_dir, args.repo_id, adapter_only=args.adapter_only, base_model=args.base_model)
    if args.evaluate:
        evaluate_release(args, card)
    folder = prepare_release(SentenceTransformer(args.model_dir), os.path.join(args.model_dir, RELEASE_FOLDER),
                             merge=not args.adapter_only, base_model_id=args.base_model, card=card,
                             classifier=ClassificationHead.from_pretrained(classifier) if os.path.isdir(classifier)
                             else None)
    return push_release(folder, args.repo_id, private=args.private, revision=args.revision, create_pr=args.create_pr,
                        commit_message=args.commit_message, retry_hint=push_command(args), timeout=args.timeout)


def push_command(args: argparse.Namespace) -> str:
    """The `hf-contrastive push` command line of `args`, every option that was given (differs from its default)
    included: what a failed push says to run again."""
    defaults = vars(build_parser().parse_args(["push", args.model_dir, args.repo_id]))
    words = ["hf-contrastive", "push", args.model_dir, args.repo_id]
    for name, default in defaults.items():
        value = getattr(args, name)
        if name in ("command", "debug", "model_dir", "repo_id") or value == default:
            continue
        flag = "--" + name.replace("_", "-")
        words += [flag] if value is True else [flag, *map(str, value)] if isinstance(value, list) else [flag, str(value)]
    return shlex.join(words)


def evaluate_release(args: argparse.Namespace, card) -> None:
    """`push --evaluate sts transfer`: the suites' scores of MODEL_DIR, and of the card's base model when it loads,
    into the card (model-index, evaluation table with the change)."""
    from .evaluation.suites import evaluate_with_base, load_suites
    from .hub.card_data import set_evaluation

    if card is None:
        raise ValueError(f"`--evaluate` puts the scores in hf_contrastive's model card, and {args.model_dir} has none "
                         "(card_data.json); use `hf-contrastive eval` for a model saved otherwise.")
    check_suite_arguments(args.evaluate, args)
    data = load_suites(args.evaluate, args.tasks, sts_dir=args.sts_dir, transfer_dir=args.transfer_dir)
    set_evaluation(card, *evaluate_with_base(args.model_dir, card.base_model, data, max_train_rows=args.max_train_rows))


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """The suites' data and settings, for `eval --suite` and `push --evaluate`."""
    parser.add_argument("--sts-dir", help="STS suite: a folder with one file per task named after it (sts12.tsv ... "
                                          "sts16.tsv, stsbenchmark.tsv, sickr.tsv; .csv/.jsonl, optionally .gz, also "
                                          "work).")
    parser.add_argument("--transfer-dir", help="Transfer suite: a folder with one file per task named after it "
                                               "(mr.tsv.gz, cr, subj, mpqa, trec, sst2, mrpc), in SentEval's format as "
                                               "in the repository's benchmarks/data/senteval/.")
    parser.add_argument("--tasks", nargs="+", help="The tasks of the suites to evaluate (default: all).")
    parser.add_argument("--max-train-rows", type=int, help="Transfer suite: fit every classifier on a stratified "
                                                           "sample of at most this many rows (a 10-fold task keeps "
                                                           "10/9 of it): faster, not the papers' protocol.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-contrastive", description=DESCRIPTION, epilog=EXAMPLES,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    debug = argparse.ArgumentParser(add_help=False)  # --debug before or after the command
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help=f"Show the full traceback of an error (also: {DEBUG_ENV}=1).")
    parser.add_argument("--debug", action="store_true", default=os.environ.get(DEBUG_ENV, "") not in ("", "0"),
                        help=f"Show the full traceback of an error (also: {DEBUG_ENV}=1).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser = _command_adder(commands.add_parser, debug)
    train = commands.add_parser("train", add_help=False, allow_abbrev=False,
                                help="Train from a YAML config; any config field as --FIELD VALUE overrides it "
                                     "(`train CONFIG.yaml --help` lists the fields).")
    train.add_argument("config", nargs="?", help="YAML file: method, model, data and any field of the method's config.")
    train.add_argument("--method", help="Overrides the config's method (with --help: that method's fields; "
                                        "`train --help` lists the methods).")
    train.add_argument("--resume", action="store_true",
                       help="Go on from the latest complete checkpoint in the output dir (after a killed run).")
    train.add_argument("-h", "--help", action="store_true", help="The fields of the config's (or --method's) method.")
    search = commands.add_parser("tune", allow_abbrev=False, help="Hyperparameter search (optuna) over a training config; writes the "
                                              "best as a config `train` takes. Any config field as --FIELD VALUE.")
    search.add_argument("config", help="YAML file, as for `train`.")
    search.add_argument("--n-trials", type=int, required=True, help="Number of trials (each a training run).")
    search.add_argument("--search-space", help="YAML: {field: {type: float|int|categorical, low, high, log, "
                                               "choices}}; default: the method's space (see the README).")
    search.add_argument("--output", default="best_config.yaml", help="Where to write the best config.")
    evaluate = commands.add_parser("eval", help="Evaluate a model: STS-B (Spearman of cosine x 100), or the STS and "
                                                "transfer suites.")
    evaluate.add_argument("model", help="Hub id or path of a SentenceTransformer.")
    evaluate.add_argument("--sts-file", action="append", default=[],
                          help="Extra STS file(s) (TSV/CSV/JSONL with sentence1, sentence2, score).")
    evaluate.add_argument("--splits", nargs="*", default=None, choices=["dev", "test"],
                          help="STS-B splits to evaluate (shipped with the package; default: dev test).")
    evaluate.add_argument("--suite", nargs="+", choices=["sts", "transfer"],
                          help="Evaluate suites instead: `sts` = STS12-16, STSBenchmark, SICK-R test sets (from the "
                               "Hub at mteb's pinned revisions, or --sts-dir), `transfer` = SentEval's MR, CR, SUBJ, "
                               "MPQA, TREC, SST-2, MRPC (a logistic regression on the embeddings; --transfer-dir).")
    add_suite_arguments(evaluate)
    push = commands.add_parser("push", help="Release a saved model to the Hub (LoRA merged unless --adapter-only).")
    push.add_argument("model_dir", help="A saved model folder (e.g. a trainer's output_dir).")
    push.add_argument("repo_id", help="Hub repository, e.g. user/my-model.")
    push.add_argument("--adapter-only", action="store_true", help="Publish LoRA adapters instead of merged weights.")
    push.add_argument("--base-model", help="Hub id of the base model (adapter-only release of a local base).")
    push.add_argument("--private", action="store_true", help="Create the repository as private.")
    push.add_argument("--revision", help="Branch to push to (created if missing).")
    push.add_argument("--create-pr", action="store_true", help="Open a pull request instead of pushing to a branch.")
    push.add_argument("--commit-message", default="Release", help="Message of the commit.")
    push.add_argument("--timeout", type=float, help="Seconds each Hub request may wait (default: "
                                                    "HF_CONTRASTIVE_PUSH_TIMEOUT, else 120).")
    push.add_argument("--evaluate", nargs="+", choices=["sts", "transfer"],
                      help="Evaluate the release (and its base model, when it loads) with these suites; the card "
                           "shows the scores and the change.")
    add_suite_arguments(push)
    demo = commands.add_parser("demo", help="A few minutes of unsupervised SimCSE on all-MiniLM-L6-v2, offline.")
    demo.add_argument("--output-dir", default="hf-contrastive-demo", help="Where the model and its release go.")
    demo.add_argument("--max-steps", type=int, default=50, help="Training steps.")
    demo.add_argument("--batch-size", type=int, default=64, help="Sentences a batch (each its own positive).")
    demo.add_argument("--eval-pairs", type=int, default=None, help="Evaluate on the first N pairs of each split.")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, overrides = parser.parse_known_args(argv)  # the rest: `train`'s --FIELD VALUE overrides
    if overrides and args.command not in ("train", "tune"):
        parser.error(f"unrecognized arguments: {' '.join(overrides)}")
    if args.command == "train" and args.method:  # read here, so that `train --method declutr --help` has no CONFIG
        overrides = ["--method", args.method, *overrides]
    try:
        if args.command == "train" and args.help:
            from .config_file import help_text

            print(help_text(args.config, overrides))
        elif args.command == "train":
            if not args.config:
                raise ValueError("give a CONFIG.yaml (`hf-contrastive train --help` lists its fields).")
            output_dir = train(args.config, overrides, resume=args.resume)
            print(f"Saved to {os.path.abspath(output_dir)}; load it with SentenceTransformer({output_dir!r}).")
        elif args.command == "tune":
            if args.n_trials < 1:
                raise ValueError(f"`--n-trials` must be >= 1, got {args.n_trials}.")
            tune(args.config, overrides, args.n_trials, args.search_space, args.output)
        elif args.command == "eval":
            if args.suite:
                eval_suite(args)
            else:
                eval_stsb(args)
        elif args.command == "push":
            commit = push_model(args)
            print(f"Pushed {args.model_dir} to {args.repo_id}: {commit.pr_url or commit.commit_url}")
        else:
            from .demo import run_demo

            run_demo(args.output_dir, args.max_steps, args.batch_size, args.eval_pairs)
    except (ImportError, ValueError, OSError, RuntimeError) as error:  # ConfigError, DataError: ValueErrors; PushError
        if args.debug:
            raise
        if type(error) is not MissingExtraError and getattr(error, "name", None) in EXTRAS:  # e.g. optuna for `tune`
            error = MissingExtraError(f"hf-contrastive {args.command}", error.name)
        print(f"hf-contrastive {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


def _command_adder(add_parser, *parents: argparse.ArgumentParser):
    """`add_parser` giving every command `HelpFormatter` and the options of `parents`."""
    def add(*args, **kwargs):
        return add_parser(*args, formatter_class=HelpFormatter, parents=list(parents), **kwargs)
    return add


if __name__ == "__main__":
    sys.exit(main())
