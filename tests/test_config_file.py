"""`hf_contrastive.config_file`: a `train` YAML file plus command-line overrides through HfArgumentParser."""

import glob
import json
import os

import pytest
import torch
import yaml

from hf_contrastive import DeCLUTRConfig, DeCLUTRTrainer, SFTContrastiveTrainer, SimCSEConfig
from hf_contrastive.cli import main
from hf_contrastive.config_file import ConfigError, load_run, parse_config
from tests.helpers.bad_input import files_in

EXAMPLE_FILES = glob.glob(os.path.join(os.path.dirname(__file__), os.pardir, "examples", "*", "*.yaml"))
EXAMPLES = sorted(p for p in EXAMPLE_FILES if not p.endswith("space.yaml"))  # cpu/, gpu/; space.yaml: a search space


def write(tmp_path, body: str, name: str = "config.yaml") -> str:
    (tmp_path / name).write_text(body)
    return str(tmp_path / name)


@pytest.fixture()
def simcse_yaml(tmp_path):
    return write(tmp_path, "model: m\ntrain_file: t.txt\nlearning_rate: 1e-5\nmax_steps: 3\nwarmup_steps: 4\n"
                           "use_cpu: true\n")


def test_overrides_win_over_the_file(simcse_yaml, tmp_path):
    config = parse_config(simcse_yaml, ["--learning_rate", "2e-4", "--output-dir", str(tmp_path / "o"), "--do_mlm",
                                        "--temperature=0.1", "--model", "other"])
    args = config.args
    assert (args.learning_rate, args.output_dir, args.do_mlm, args.temperature) == (2e-4, str(tmp_path / "o"), True,
                                                                                    0.1)
    assert config.run.model == "other"
    assert (args.max_steps, args.warmup_steps) == (3, 4) and isinstance(args.warmup_steps, int), "the file's, as is"
    assert parse_config(simcse_yaml).args.learning_rate == 1e-5, "YAML 1.1's 1e-5 (a string to PyYAML) is a float"


def test_method_on_the_command_line_picks_the_parser(tmp_path):
    path = write(tmp_path, "model: m\ntrain_file: t.txt\nmin_span_len: 4\nmax_span_len: 24\nuse_cpu: true\n")
    config = parse_config(path, ["--method", "declutr"])
    assert config.trainer_class is DeCLUTRTrainer and type(config.args) is DeCLUTRConfig
    assert (config.args.min_span_len, config.args.max_span_len) == (4, 24)
    with pytest.raises(ConfigError, match=r"config\.yaml: unknown key `min_span_len` \(value 4\): it applies to "
                                          r"`method: declutr` only, and this config's method is simcse\."):
        parse_config(path)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: os.path.join(*p.split(os.sep)[-2:]))  # cpu/simcse_unsup.yaml
def test_every_example_parses_to_its_values(path):
    with open(path) as f:
        raw = yaml.safe_load(f)
    config = parse_config(path, ["--fp16", "false", "--use_cpu"])  # fp16 needs a GPU
    assert config.trainer_class.method == raw["method"]
    settings = [config.run, config.data, config.args]
    for key, value in raw.items():
        if key != "fp16":
            parsed = getattr(next(s for s in settings if s is not None and hasattr(s, key)), key)
            assert parsed == value, key


@pytest.mark.parametrize("line,key,value,expected", [
    ("sts_eval: true", "sts_eval", "True", "must be a string"),
    ("learning_rate: abc", "learning_rate", "'abc'", "must be a number"),
    ("max_steps: 1.5", "max_steps", "1.5", "must be a whole number"),
    ("max_steps: 1e4", "max_steps", "'1e4'", "must be a whole number"),  # as `--max_steps 1e4`
    ("learning_rat: 1e-5", "learning_rat", "'1e-5'", "(did you mean `learning_rate`?)"),
    ("do_mlm: maybe", "do_mlm", "'maybe'", "must be true or false"),
    ("save_strategy: no", "save_strategy", "False", "must be one of ['no', 'steps', 'epoch', 'best']"),
    ("lr_scheduler_type: linar", "lr_scheduler_type", "'linar'", "must be one of ['linear', "),
    ("report_to: {a: 1}", "report_to", "{'a': 1}", "must be a string"),
    ("max_train_samples: [1, 2]", "max_train_samples", "[1, 2]", "must be a whole number"),
    ("eval_file: x.csv", "eval_file", "'x.csv'", "applies to `method: sft_contrastive` only"),
])
def test_a_wrong_value_in_the_file_names_the_file_key_and_value(tmp_path, line, key, value, expected):
    path = write(tmp_path, f"model: m\ntrain_file: t.txt\n{line}\n")
    with pytest.raises(ConfigError) as raised:
        parse_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and f"`{key}`" in message and value in message and expected in message


@pytest.mark.parametrize("flags,expected", [
    (["--learning_rate", "abc"], "command line: argument --learning_rate/--learning-rate: invalid float value: 'abc'"),
    (["--max_steps", "1.5"], "command line: argument --max_steps/--max-steps: invalid int value: '1.5'"),
    (["--learning_rat", "1e-5"], "command line: unknown flag --learning_rat (did you mean `--learning_rate`?)"),
    (["--learning_r", "1e-5"], "command line: unknown flag --learning_r (did you mean `--learning_rate`?)"),
    (["--min_span_len", "3"], "command line: unknown flag --min_span_len: it applies to `method: declutr` only"),
    (["--lr_scheduler_type", "linar"], "argument --lr_scheduler_type/--lr-scheduler-type: invalid choice: 'linar'"),
    (["--method", "simclr"], "command line: `method` must be one of ['declutr', 'sft_contrastive', 'simcse', 'supcon'], got "
                             "'simclr'"),
    (["other.yaml"], "command line: unexpected argument 'other.yaml'"),
])
def test_a_wrong_flag_is_named(simcse_yaml, flags, expected):
    with pytest.raises(ConfigError) as raised:
        parse_config(simcse_yaml, flags)
    assert expected in str(raised.value)


def test_a_check_of_the_config_names_the_file_and_the_overrides(simcse_yaml):
    with pytest.raises(ConfigError, match=r"config\.yaml \(with --temperature -1\): `temperature` must be > 0"):
        parse_config(simcse_yaml, ["--temperature", "-1"])
    with pytest.raises(ConfigError, match=r"config\.yaml \(with --max_train_samples 0\): `max_train_samples` must be "
                                          r">= 1, got 0"):
        parse_config(simcse_yaml, ["--max_train_samples", "0"])


@pytest.mark.parametrize("body,message", [
    ("train_file: t.txt\n", "`model` (a Hub id or a local path) is required"),
    ("model: m\n", "give `train_file` (a local file) or `dataset_name` (a Hub dataset)"),
    ("method: sft_contrastive\nmodel: m\ntrain_file: t.csv\neval_split: test\n",
     "`eval_split='test'` is a split of `dataset_name`; give `dataset_name`, or an `eval_file`"),
])
def test_missing_settings_are_named(tmp_path, body, message):
    with pytest.raises(ConfigError) as raised:
        parse_config(write(tmp_path, body))
    assert message in str(raised.value)


def test_sts_eval_true_is_a_config_error_in_the_cli(tmp_path, capsys):
    assert main(["train", write(tmp_path, "model: m\ntrain_file: t.txt\nsts_eval: true\n")]) == 2
    assert "config.yaml: `sts_eval` must be a string, got True" in capsys.readouterr().err


def test_help_lists_the_fields_of_the_method(tmp_path, capsys):
    assert main(["train", "--method", "declutr", "--help"]) == 0
    declutr = capsys.readouterr().out
    assert "--min_span_len" in declutr and "--mlp_only_train" not in declutr and "--unlabelled_file" not in declutr
    assert "--model MODEL" in declutr and "--learning_rate" in declutr  # the run's and the Trainer's arguments
    path = write(tmp_path, "method: sft_contrastive\nmodel: m\ntrain_file: t.csv\ntemperature: 0.0123\n")
    assert main(["train", path, "--help"]) == 0
    sft = capsys.readouterr().out
    assert "--unlabelled_file" in sft and "--labelled_per_batch" in sft and "--min_span_len" not in sft
    assert "(default: 0.0123)" in sft, "the file's values are the defaults"
    assert main(["train", "-h"]) == 0
    assert "--mlp_only_train" in capsys.readouterr().out  # simcse, the default method


def test_load_run_builds_the_trainer_without_training(tiny_encoder_dir, sentences, tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("text,label\n" + "".join(f"{s},{'pet' if 'cat' in s else 'other'}\n" for s in sentences))
    unlabelled = tmp_path / "more.txt"
    unlabelled.write_text("\n".join(sentences))
    output = tmp_path / "out"
    path = write(tmp_path, f"method: sft_contrastive\nmodel: {tiny_encoder_dir}\ntrain_file: {train}\n"
                           f"eval_file: {train}\nunlabelled_file: {unlabelled}\nsts_eval: stsb-dev\n"
                           f"max_train_samples: 8\noutput_dir: {output}\nuse_cpu: true\nreport_to: none\n")
    run = load_run(path, ["--max_train_samples", "6"])
    assert len(run.train_dataset) == 6 and run.train_dataset.features["label"].names == ["other", "pet"]
    assert run.eval_dataset.features["label"] == run.train_dataset.features["label"]
    assert len(run.extra["unlabelled_dataset"]) == len(sentences) and "evaluator" in run.extra
    assert set(run.trainer_kwargs()) == {"model", "args", "train_dataset", "eval_dataset", "unlabelled_dataset",
                                         "evaluator"}
    trainer = run.build_trainer()
    assert type(trainer) is SFTContrastiveTrainer and trainer.args is run.config.args
    assert files_in(output) == [], "nothing trained or written"


def test_without_a_labelled_evaluation_set_the_sts_set_is_the_evaluation_set(tiny_encoder_dir, sentences, tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("text,label\n" + "".join(f"{s},{'pet' if 'cat' in s else 'other'}\n" for s in sentences))
    path = write(tmp_path, f"method: sft_contrastive\nmodel: {tiny_encoder_dir}\ntrain_file: {train}\n"
                           "sts_eval: stsb-dev\nuse_cpu: true\nreport_to: none\n")
    run = load_run(path)
    assert run.eval_dataset.column_names == ["sentence1", "sentence2", "score"] and run.extra == {}


def test_train_with_overrides_end_to_end(tiny_encoder_dir, sentences, tmp_path, capsys):
    text = tmp_path / "sentences.txt"
    text.write_text("\n".join(sentences))
    output = tmp_path / "out"
    path = write(tmp_path, f"model: {tiny_encoder_dir}\ntrain_file: {text}\noutput_dir: {tmp_path / 'unused'}\n"
                           "learning_rate: 1e-5\nmax_steps: 5\nper_device_train_batch_size: 8\nuse_cpu: true\n"
                           "report_to: none\nsave_strategy: 'no'\n")
    assert main(["train", path, "--max_steps", "1", "--learning-rate", "2e-4", "--output_dir", str(output),
                 "--pooler", "avg"]) == 0
    assert "Saved to" in capsys.readouterr().out
    args = torch.load(output / "training_args.bin", weights_only=False)
    assert type(args) is SimCSEConfig and (args.max_steps, args.learning_rate, args.pooler) == (1, 2e-4, "avg")
    assert json.loads((output / "config_sentence_transformers.json").read_text())["model_type"] == "SentenceTransformer"
    assert not (tmp_path / "unused").exists()


def test_tune_runs_trials_and_writes_a_best_config_that_train_takes(tiny_encoder_dir, sentences, tmp_path, capsys):
    text = tmp_path / "sentences.txt"
    text.write_text("\n".join(sentences))
    space = write(tmp_path, "learning_rate: {type: float, low: 1e-5, high: 1e-3, log: true}\n"
                            "temperature: {type: categorical, choices: [0.05, 0.1]}\n", "space.yaml")
    path = write(tmp_path, f"model: {tiny_encoder_dir}\ntrain_file: {text}\nsts_eval: stsb-dev\n"
                           f"output_dir: {tmp_path / 'trials'}\nper_device_train_batch_size: 8\nuse_cpu: true\n"
                           "report_to: none\nsave_strategy: 'no'\nprecision: fp32\n")
    best = tmp_path / "best.yaml"
    assert main(["tune", path, "--n-trials", "2", "--search-space", space, "--output", str(best),
                 "--max-steps", "1", "--no_dataloader_pin_memory"]) == 0
    out = capsys.readouterr().out
    assert "Best config written to" in out and out.count("\n") >= 3  # the trials table, then the line
    written = yaml.safe_load(best.read_text())
    assert written["max_steps"] == 1 and written["model"] == tiny_encoder_dir  # overrides and the input's keys
    assert 1e-5 <= float(written["learning_rate"]) <= 1e-3 and written["temperature"] in (0.05, 0.1)
    assert written["dataloader_pin_memory"] is False  # a --no_X switch is written as X: false
    run = parse_config(str(best))
    assert (run.args.max_steps, run.args.temperature) == (1, written["temperature"])


def test_tune_needs_trials(simcse_yaml, capsys):
    assert main(["tune", simcse_yaml, "--n-trials", "0"]) == 2
    assert "`--n-trials` must be >= 1, got 0" in capsys.readouterr().err
