"""`train` configs: a YAML file plus command-line overrides, read with transformers' `HfArgumentParser`.

`hf-contrastive train CONFIG.yaml [--FIELD VALUE ...]` reads CONFIG.yaml as TRL reads its `--config` file: each key of
the file is a flag of the method's parser (`RunArguments`, the method's own data arguments if its trainer has a
`data_arguments_class`, e.g. SFT+contrastive's `SFTDataArguments`, then the method's config dataclass, e.g.
`SimCSEConfig`), the file's values become the parser's defaults, and a flag on the command line overrides them. A
YAML value is read as its flag would read it (`learning_rate: 1e-5`, a string to PyYAML, is the float 1e-5;
`max_steps: 1.5` is an error, as `--max_steps 1.5` is), plus what only YAML can write: `true`/`false` for on/off
fields, lists and mappings for fields that take them (`report_to: [tensorboard]`, `lr_scheduler_kwargs: {...}`). A wrong type, an unknown key or flag, or a setting the
config rejects raises `ConfigError` naming the file (or the command line), the key and the value.

- `parse_config(path, overrides)`: the settings (`RunConfig`), nothing loaded.
- `load_run(path, overrides)`: the settings and the datasets (`Run`); `Run.build_trainer()` is the trainer that
  `hf-contrastive train` trains (another command, e.g. a hyperparameter search, can build its own from
  `Run.trainer_kwargs()`).
- `method_parser(method, values)`: the parser itself, e.g. for `--help`.
"""

from __future__ import annotations

import argparse
import difflib
import os
import textwrap
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from transformers import HfArgumentParser
from transformers.hf_argparser import string_to_bool

DEFAULT_METHOD = "simcse"
TYPE_NAMES = {int: "a whole number", float: "a number", string_to_bool: "true or false", str: "a string"}


class ConfigError(ValueError):
    """A problem in a `train` config, naming the YAML file (and line) or the command-line flag, the key and the
    value."""


@dataclass
class RunArguments:
    """
    What a `train` config holds besides the method's config dataclass: the method, the model and the training data.

    Parameters:
        method (`str`, *optional*, defaults to `"simcse"`):
            A key of `hf_contrastive.trainers.TRAINERS` (`simcse`, `declutr`, `sft_contrastive`, `supcon`).
        model (`str`):
            Hub id or local path of an encoder or a SentenceTransformer (required).
        train_file (`str`, *optional*):
            Local path or URL of a `.txt` (one text per line), `.csv`, `.tsv`, `.json` or `.jsonl` file.
        dataset_name (`str`, *optional*):
            A Hub dataset (or a local folder of data files) instead of `train_file`, with `dataset_config` and
            `dataset_split` (slicing syntax allowed, e.g. `train[:1%]`).
        max_train_samples (`int`, *optional*):
            Train on the first N rows only.
        sts_eval (`str`, *optional*):
            `stsb-dev` / `stsb-test` (shipped) or an STS file (`sentence1`, `sentence2`, `score`): the `sts-dev`
            evaluator, e.g. for `metric_for_best_model: eval_sts-dev_spearman_cosine`.
    """

    _argument_group_name = "model and data"

    method: str = field(default=DEFAULT_METHOD, metadata={"help": "The method (one of TRAINERS: listed above)."})
    model: str | None = field(default=None, metadata={"help": "Hub id or local path of an encoder or a "
                                                              "SentenceTransformer (required)."})
    train_file: str | None = field(default=None, metadata={"help": "Local path or URL of a .txt (one text per line), "
                                                                   ".csv, .tsv, .json or .jsonl file."})
    dataset_name: str | None = field(default=None, metadata={"help": "A Hub dataset (or a local folder) instead of "
                                                                     "train_file."})
    dataset_config: str | None = field(default=None, metadata={"help": "The configuration of dataset_name."})
    dataset_split: str = field(default="train", metadata={"help": "The training split of dataset_name (slicing "
                                                                  "syntax allowed, e.g. train[:1%%])."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Train on the first N rows only."})
    sts_eval: str | None = field(default=None, metadata={"help": "stsb-dev / stsb-test (shipped) or an STS file "
                                                                 "(sentence1, sentence2, score): the sts-dev "
                                                                 "evaluator."})

    def __post_init__(self):
        if not self.model:
            raise ValueError("`model` (a Hub id or a local path) is required.")
        if not (self.train_file or self.dataset_name):
            raise ValueError("give `train_file` (a local file) or `dataset_name` (a Hub dataset).")
        if self.max_train_samples is not None and self.max_train_samples < 1:
            raise ValueError(f"`max_train_samples` must be >= 1, got {self.max_train_samples}.")


@dataclass
class RunConfig:
    """A parsed config: the method's trainer class and its arguments; nothing loaded yet."""

    trainer_class: type
    run: RunArguments
    args: Any  # the method's config dataclass (e.g. SimCSEConfig)
    data: Any = None  # the method's `data_arguments_class` (e.g. SFT+contrastive's SFTDataArguments), if it has one


@dataclass
class Run:
    """Everything to build the trainer of a config: its `RunConfig` and the datasets, loaded; no training yet."""

    config: RunConfig
    train_dataset: Any
    eval_dataset: Any = None
    extra: dict[str, Any] = field(default_factory=dict)  # other trainer arguments, e.g. an unlabelled_dataset

    def trainer_kwargs(self) -> dict[str, Any]:
        """The trainer's keyword arguments: `model` (a name or path), `args`, the datasets and any `extra`."""
        return {"model": self.config.run.model, "args": self.config.args, "train_dataset": self.train_dataset,
                "eval_dataset": self.eval_dataset, **self.extra}

    def build_trainer(self, **changes):
        """The method's trainer, with `changes` replacing any of `trainer_kwargs()` (e.g. `callbacks=[...]`)."""
        from .hub.card_data import set_training_dataset_id

        trainer = self.config.trainer_class(**{**self.trainer_kwargs(), **changes})
        name = self.config.run.dataset_name
        if name and not os.path.exists(name) and trainer.model is not None:  # the card names and links a Hub dataset
            set_training_dataset_id(trainer.model, name)
        return trainer


def read_yaml(path: str) -> dict[str, Any]:
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


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each flag's default (as `HfArgumentParser`'s), the description's lines (the method list) as written."""


class ConfigParser(HfArgumentParser):
    """`HfArgumentParser` whose command-line errors raise `ConfigError` instead of exiting."""

    def error(self, message: str):
        raise ConfigError(f"command line: {message}.")


def method_dataclasses(method: str) -> tuple[type, tuple[type, ...]]:
    """The trainer class of `method` and the dataclasses of its parser."""
    from .trainers import TRAINERS

    trainer_class = TRAINERS[method]
    data = (trainer_class.data_arguments_class,) if trainer_class.data_arguments_class is not None else ()
    return trainer_class, (RunArguments, *data, trainer_class.training_args_class)


def select_method(values: dict[str, Any], overrides: Sequence[str], path: str | None) -> str:
    """`--method` on the command line, else the file's `method`, else simcse."""
    from .trainers import TRAINERS

    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--method")
    given = parser.parse_known_args(list(overrides))[0].method
    method = given or values.get("method", DEFAULT_METHOD)
    if not isinstance(method, str) or method not in TRAINERS:
        where = "command line" if given or not path else path
        raise ConfigError(f"{where}: `method` must be one of {sorted(TRAINERS)}, got {method!r}.")
    return method


def method_parser(method: str, values: dict[str, Any] | None = None, path: str | None = None) -> ConfigParser:
    """The parser of `method`'s settings, with `values` (a YAML file's mapping, from `path`) checked and set as its
    defaults: what `--help` lists and what the command-line flags override."""
    from .trainers import TRAINERS

    trainer_class, dataclass_types = method_dataclasses(method)
    methods = "\n".join(f"  {name:<16} {trainer.help}" for name, trainer in TRAINERS.items())
    parser = ConfigParser(
        dataclass_types, prog="hf-contrastive train", allow_abbrev=False,
        usage="hf-contrastive train CONFIG.yaml [--resume] [--FIELD VALUE ...]",
        description=textwrap.fill(
            f"Train with method {method} ({trainer_class.__name__}): each key of CONFIG.yaml is one of the flags "
            f"below{' (defaults: the values of ' + path + ')' if path else ''}, and a flag given on the command line "
            "overrides it. --resume: go on from the latest complete checkpoint in output_dir.", width=100)
        + f"\n\nmethods (another's settings: --method METHOD --help):\n{methods}",
        formatter_class=HelpFormatter,
    )
    flag_actions(parser)["method"].help = f"{' | '.join(TRAINERS)} (default: {DEFAULT_METHOD})."
    if values:
        parser.set_defaults(**file_defaults(parser, values, path or "config", method))
    return parser


def help_text(path: str | None = None, overrides: Sequence[str] = ()) -> str:
    """`hf-contrastive train [CONFIG.yaml] [--method METHOD] --help`: the flags of the method (`--method`, else the
    file's, else simcse), with the file's values as their defaults."""
    values = read_yaml(path) if path else {}
    return method_parser(select_method(values, overrides, path), values, path).format_help()


def flag_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Each field's `--field` action (not the `--no_field` switch of a field that defaults to True)."""
    return {action.dest: action for action in parser._actions if f"--{action.dest}" in action.option_strings}


def file_defaults(parser: ConfigParser, values: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """A YAML file's values, each read as its flag reads a command-line value; unknown keys raise."""
    actions = flag_actions(parser)
    hints = {name: hint for dtype in parser.dataclass_types for name, hint in typing.get_type_hints(dtype).items()}
    defaults = {}
    for key, value in values.items():
        if key not in actions:
            raise ConfigError(f"{path}: unknown key `{key}` (value {value!r}){unknown_hint(key, actions, method)}.")
        defaults[key] = file_value(actions[key], hints[key], value, f"{path}: `{key}`")
    return defaults


def unknown_hint(key: str, known: Sequence[str], method: str, prefix: str = "") -> str:
    """Where an unknown key belongs instead: another method's setting, or a close match of a known one (written with
    `prefix`, e.g. `--` for a flag)."""
    from .trainers import TRAINERS

    owners = [name for name in TRAINERS if name != method and key in
              {f.name for dtype in method_dataclasses(name)[1] for f in fields(dtype)}]
    if owners:
        return f": it applies to `method: {' | '.join(owners)}` only, and this config's method is {method}"
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean `{prefix}{close[0]}`?)" if close else f" for method {method}"


def file_value(action: argparse.Action, hint: Any, value: Any, what: str) -> Any:
    """`value` of a YAML key, read as its flag would read it; `what` names the file and key in errors."""
    kinds = {typing.get_origin(t) or t for t in (typing.get_args(hint) if typing.get_origin(hint) in
                                                 (typing.Union, types.UnionType) else (hint,))}
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        if type(value) not in kinds:
            raise ConfigError(f"{what} must be {describe(action)}, got {value!r}.")
        return [scalar_value(action, v, what) for v in value] if action.nargs == "+" else value
    return scalar_value(action, value, what)


def scalar_value(action: argparse.Action, value: Any, what: str) -> Any:
    """A YAML scalar read as its flag reads a command-line string; `true`/`false` for on/off fields only, and an int
    stays an int where a number is expected."""
    if isinstance(value, bool) or (isinstance(value, int) and action.type is float):
        if isinstance(value, bool) and action.type is not string_to_bool:
            raise ConfigError(f"{what} must be {describe(action)}, got {value!r} (YAML reads an unquoted "
                              "true/false/yes/no/on/off as a boolean: quote it for a string).")
        return value
    try:
        converted = action.type(str(value))
    except (TypeError, ValueError, argparse.ArgumentTypeError):
        raise ConfigError(f"{what} must be {describe(action)}, got {value!r}.") from None
    if action.choices is not None and converted not in action.choices:
        raise ConfigError(f"{what} must be {describe(action)}, got {value!r}.")
    return converted


def describe(action: argparse.Action) -> str:
    """What a flag takes, in words."""
    if action.choices is not None:
        return f"one of {list(action.choices)}"
    return TYPE_NAMES.get(action.type, f"a {getattr(action.type, '__name__', action.type)}")


def unknown_flags(remaining: list[str], parser: ConfigParser, method: str) -> str:
    """The message for the command-line arguments that the parser left: the first unknown flag, or a stray value."""
    flag = next((arg for arg in remaining if arg.startswith("-")), remaining[0])
    if not flag.startswith("-"):
        return f"command line: unexpected argument {flag!r} (one CONFIG.yaml, then --FIELD VALUE pairs)."
    key = flag.lstrip("-").split("=")[0].replace("-", "_")
    return f"command line: unknown flag {flag}{unknown_hint(key, list(flag_actions(parser)), method, '--')}."


def parse_config(path: str | None, overrides: Sequence[str] = ()) -> RunConfig:
    """The settings of a config file (`path`; `None`: the command line only) with the command-line `overrides`
    (`["--learning_rate", "1e-4", ...]`) applied; checked, nothing loaded."""
    values = read_yaml(path) if path else {}
    method = select_method(values, overrides, path)
    parser = method_parser(method, values, path)
    remaining = parser.parse_known_args(list(overrides))[1]  # a flag's wrong value raises here, naming the flag
    if remaining:
        raise ConfigError(unknown_flags(remaining, parser, method))
    try:
        run, *data, args = parser.parse_args_into_dataclasses(list(overrides), look_for_args_file=False)
    except ConfigError:
        raise
    except ValueError as error:  # a check of a config dataclass: it names the field and the value
        where = " ".join(filter(None, [path, f"(with {' '.join(overrides)})" if overrides else ""]))
        raise ConfigError(f"{where or 'command line'}: {error}") from None
    config = RunConfig(method_dataclasses(method)[0], run, args, *data)
    if config.data is not None:
        try:
            config.data.check(run)
        except ValueError as error:
            raise ConfigError(f"{path or 'command line'}: {error}") from None
    return config


def load_run(path: str | None, overrides: Sequence[str] = ()) -> Run:
    """`parse_config(path, overrides)` and the datasets it names: the training set (`train_file` or a split of
    `dataset_name`, its first `max_train_samples` rows), the STS set of `sts_eval` and what the method's trainer
    makes of them and of its own data arguments (`run_datasets`: e.g. SFT+contrastive's labelled evaluation and
    unlabelled sets, with the class ids of the training set). Data errors raise `DataError` naming the file, row and
    value; nothing is trained."""
    from .data.loading import load_file_or_split
    from .evaluation.sts_files import load_sts_dataset

    config = parse_config(path, overrides)
    run = config.run
    train_dataset = load_file_or_split(run.train_file, run.dataset_name, run.dataset_config, run.dataset_split)
    if run.max_train_samples is not None:
        train_dataset = train_dataset.select(range(min(run.max_train_samples, len(train_dataset))))
    sts = load_sts_dataset(run.sts_eval) if run.sts_eval else None

    def load(file: str | None, split: str | None) -> Any:
        return load_file_or_split(file, run.dataset_name, run.dataset_config, split)

    return Run(config, *config.trainer_class.run_datasets(train_dataset, sts, config.data, load))
