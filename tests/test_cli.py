import json
import os

import pytest
import torch
from sentence_transformers import SentenceTransformer

from hf_contrastive import DataError
from hf_contrastive.cli import build_parser, eval_stsb, main, train
from hf_contrastive.config_file import ConfigError
from tests.helpers.bad_input import TSV, Env, assert_named_before_training


@pytest.fixture()
def train_files(tmp_path, sentences):
    text = tmp_path / "sentences.txt"
    text.write_text("\n".join(sentences) + "\n\n")
    sts = tmp_path / "sts.tsv"
    sts.write_text("sentence1\tsentence2\tscore\n" + "".join(
        f"{a}\t{b}\t{i % 5}\n" for i, (a, b) in enumerate(zip(sentences[:16], sentences[16:32]))))
    return text, sts


def write_config(tmp_path, body: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(body)
    return str(path)


def test_train_from_yaml(tiny_encoder_dir, train_files, tmp_path, capsys):
    text, sts = train_files
    output = tmp_path / "out"
    config = write_config(tmp_path, f"""
method: simcse
model: {tiny_encoder_dir}
train_file: {text}
sts_eval: {sts}
output_dir: {output}
pooler: avg_first_last
temperature: 5e-2
learning_rate: 1e-4
max_steps: 2
per_device_train_batch_size: 8
eval_strategy: steps
eval_steps: 2
use_cpu: true
report_to: none
""")
    assert main(["train", config]) == 0
    assert "Saved to" in capsys.readouterr().out
    model = SentenceTransformer(str(output))
    assert [type(m).__name__ for m in model] == ["Transformer", "WeightedLayerPooling", "Pooling"]
    args = __import__("torch").load(output / "training_args.bin", weights_only=False)
    assert (args.temperature, args.learning_rate) == (0.05, 1e-4), "YAML's 5e-2 / 1e-4 are read as numbers"
    state = json.loads((output / "config_sentence_transformers.json").read_text())
    assert state["model_type"] == "SentenceTransformer"
    assert "loss:SimCSELoss" in (output / "README.md").read_text()


def test_train_declutr_from_yaml(tiny_encoder_dir, sentences, tmp_path):
    documents = tmp_path / "documents.txt"
    documents.write_text("\n".join(" . ".join(sentences[i:] + sentences[:i]) for i in range(6)) + "\nshort one\n")
    output = tmp_path / "out"
    config = write_config(tmp_path, f"""
method: declutr
model: {tiny_encoder_dir}
train_file: {documents}
output_dir: {output}
min_span_len: 4
max_span_len: 24
per_device_train_batch_size: 2
max_steps: 2
use_cpu: true
report_to: none
""")
    assert main(["train", config]) == 0
    model = SentenceTransformer(str(output))
    assert model[1].pooling_mode == "mean"
    assert "loss:DeCLUTRLoss" in (output / "README.md").read_text()


def test_train_sft_contrastive_from_yaml(tiny_encoder_dir, sentences, train_files, tmp_path):
    _, sts = train_files
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("text,label\n" + "".join(f"{s},{'pet' if 'cat' in s or 'dog' in s else 'other'}\n"
                                                  for s in sentences))
    unlabelled = tmp_path / "more.txt"
    unlabelled.write_text("\n".join(sentences[::-1]))
    output = tmp_path / "out"
    config = write_config(tmp_path, f"""
method: sft_contrastive
model: {tiny_encoder_dir}
train_file: {labelled}
eval_file: {labelled}
unlabelled_file: {unlabelled}
sts_eval: {sts}
output_dir: {output}
strategy: alternating
head_learning_rate: 1e-2
max_steps: 2
per_device_train_batch_size: 8
eval_strategy: steps
eval_steps: 2
use_cpu: true
report_to: none
""")
    assert main(["train", config]) == 0
    from hf_contrastive import EmbeddingClassifier

    classifier = EmbeddingClassifier.from_pretrained(str(output))
    assert classifier.head.id2label == {0: "other", 1: "pet"}  # text labels encoded in sorted order
    assert set(classifier.predict(sentences[:3])) <= {"other", "pet"}


def test_train_sft_contrastive_few_labels_from_splits_of_one_dataset(tiny_encoder_dir, sentences, tmp_path, capsys):
    """`dataset_split` labelled, `unlabelled_split` of the same dataset as the unlabelled texts (its labels unused),
    every batch `labelled_per_batch` labelled rows."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "train.csv").write_text("text,label\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(sentences)))
    output = tmp_path / "out"
    config = write_config(tmp_path, f"""
method: sft_contrastive
model: {tiny_encoder_dir}
dataset_name: {folder}
dataset_split: train[:8]
unlabelled_split: train[8:]
labelled_per_batch: 2
output_dir: {output}
max_steps: 2
per_device_train_batch_size: 8
use_cpu: true
report_to: none
""")
    assert main(["train", config]) == 0
    assert (output / "classifier" / "config.json").is_file()
    assert "labelled_per_batch" in (output / "README.md").read_text()
    bad = write_config(tmp_path, f"method: sft_contrastive\nmodel: {tiny_encoder_dir}\ntrain_file: "
                                 f"{folder / 'train.csv'}\nunlabelled_split: train\n")
    assert main(["train", bad]) == 2
    assert "`unlabelled_split='train'` is a split of `dataset_name`" in capsys.readouterr().err


def test_sft_only_keys_need_the_sft_method(tiny_encoder_dir, train_files, tmp_path, capsys):
    text, _ = train_files
    config = write_config(tmp_path, f"model: {tiny_encoder_dir}\ntrain_file: {text}\neval_file: {text}\n")
    assert main(["train", config]) == 2
    assert (f"config.yaml: unknown key `eval_file` (value {str(text)!r}): it applies to `method: sft_contrastive` "
            "only, and this config's method is simcse") in capsys.readouterr().err


def test_version_and_help_with_examples_and_defaults(capsys):
    from hf_contrastive import __version__

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out == f"hf-contrastive {__version__}\n"
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "examples:\n  hf-contrastive demo" in out and "the parsing" not in out  # no internal notes
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Training steps. (default: 50)" in out and "(default: None)" not in out and "(default: False)" not in out


def test_debug_keeps_the_traceback_before_or_after_the_command(tmp_path, capsys, monkeypatch):
    config = write_config(tmp_path, "method: simclr\nmodel: x\n")
    assert main(["train", config]) == 2 and "Traceback" not in capsys.readouterr().err
    for argv in (["--debug", "train", config], ["train", config, "--debug"]):
        with pytest.raises(ConfigError, match="`method` must be one of"):
            main(argv)
    monkeypatch.setenv("HF_CONTRASTIVE_DEBUG", "1")
    with pytest.raises(ConfigError):
        main(["train", config])


def test_a_missing_extra_names_the_command_that_installs_it(monkeypatch, capsys):
    import hf_contrastive.cli as cli

    def missing(args):
        raise ModuleNotFoundError("No module named 'sklearn'", name="sklearn")

    monkeypatch.setattr(cli, "eval_suite", missing)
    assert main(["eval", "model", "--suite", "transfer"]) == 2
    assert capsys.readouterr().err == ("hf-contrastive eval: error: hf-contrastive eval needs scikit-learn, which is "
                                       'not installed: pip install -e ".[eval]"  (in your clone of hf_contrastive)\n')


def test_a_failed_push_says_to_run_it_again_with_every_option_given():
    from hf_contrastive.cli import push_command

    given = ["push", "out dir", "user/m", "--adapter-only", "--base-model", "org/base", "--private", "--revision",
             "dev", "--create-pr", "--timeout", "30", "--evaluate", "sts", "transfer", "--tasks", "MR", "--debug"]
    assert push_command(build_parser().parse_args(given)) == (
        "hf-contrastive push 'out dir' user/m --adapter-only --base-model org/base --private --revision dev "
        "--create-pr --timeout 30.0 --evaluate sts transfer --tasks MR")
    assert push_command(build_parser().parse_args(["push", "out", "user/m"])) == "hf-contrastive push out user/m"


def test_unknown_method_is_named(tmp_path, capsys):
    assert main(["train", write_config(tmp_path, "method: simclr\nmodel: x\n")]) == 2
    assert "`method` must be one of ['declutr', 'sft_contrastive', 'simcse', 'supcon'], got 'simclr'" in capsys.readouterr().err


def test_malformed_yaml_names_the_line(tmp_path, capsys):
    config = write_config(tmp_path, "model: x\ntrain_file: [unclosed\nmax_steps: 2\n")
    assert main(["train", config]) == 2
    error = capsys.readouterr().err
    assert ("config.yaml, line 3, column 10: invalid YAML (expected ',' or ']', but got ':'; while parsing a flow "
            "sequence started at line 2)") in error


@pytest.mark.parametrize("line,message", [("temprature: 0.1", "temprature"),
                                          ("temperature: -1", "`temperature` must be > 0, got -1"),
                                          ("learning_rate: fast", "`learning_rate` must be a number, got 'fast'"),
                                          ("temperature: -5e-2", "`temperature` must be > 0, got -0.05"),
                                          ("max_steps: 2.5", "`max_steps` must be a whole number, got 2.5")])
def test_bad_config_field_is_named(tiny_encoder_dir, train_files, tmp_path, capsys, line, message):
    text, _ = train_files
    config = write_config(tmp_path, f"model: {tiny_encoder_dir}\ntrain_file: {text}\noutput_dir: {tmp_path}\n{line}\n")
    assert main(["train", config]) == 2
    assert message in capsys.readouterr().err


def test_missing_data_is_reported(tiny_encoder_dir, tmp_path, capsys):
    config = write_config(tmp_path, f"model: {tiny_encoder_dir}\noutput_dir: {tmp_path}\n")
    assert main(["train", config]) == 2
    assert "`train_file`" in capsys.readouterr().err


def cli_eval(name, text):
    """`hf-contrastive eval MODEL --sts-file FILE`: the files are read before the (here missing) model is loaded."""
    return lambda env: eval_stsb(build_parser().parse_args(["eval", str(env.tmp / "no-model"), "--splits",
                                                            "--sts-file", env.write(name, text)]))


def cli_train(config, **files):
    def run(env):
        for name, text in files.items():
            env.write(name, text)
        config_text = f"model: {env.model}\noutput_dir: {env.out}\nmax_steps: 1\nuse_cpu: true\nreport_to: none\n"
        train(env.write("config.yaml", config_text + config.format(tmp=env.tmp)), [], resume=False)
    return run


BAD_INPUT = [  # (id, call, error type, regex of the message): `hf-contrastive eval`, then `train`
    ("cli-eval-comma-decimal-score", cli_eval("mine.tsv", TSV + "a cat\ta dog\t4,5\n"), DataError,
     r"mine\.tsv, line 2: `score` must be a number, got '4,5'"),
    ("cli-eval-missing-sentence", cli_eval("mine.jsonl", '{"sentence1": "a cat", "score": 1}\n'), DataError,
     r"mine\.jsonl, line 1: `sentence2` must be a string, got None"),
    ("cli-train-csv-empty-text-cell",
     cli_train("train_file: {tmp}/train.csv\n", **{"train.csv": "text\na cat\n\"\"\n"}), DataError,
     r"`train_dataset` row 1: column 'text' is missing \(None\)"),
    ("cli-train-csv-missing-label",
     cli_train("method: sft_contrastive\ntrain_file: {tmp}/train.csv\n",
               **{"train.csv": "text,label\na,0\nb,1\nc,\n"}), DataError,
     r"`train_dataset` row 2: 'label' is missing \(None\)"),
    ("cli-train-malformed-csv", cli_train("train_file: {tmp}/train.csv\n", **{"train.csv": 'text\n"a cat\n'}),
     DataError, r"train\.csv' cannot be read as CSV: ParserError: .*EOF inside string"),
    ("cli-train-bad-max-train-samples",
     cli_train("train_file: {tmp}/train.txt\nmax_train_samples: lots\n", **{"train.txt": "a cat\na dog\n"}),
     ConfigError, r"config\.yaml: `max_train_samples` must be a whole number, got 'lots'"),
    ("cli-train-sts-eval-bad-score",
     cli_train("train_file: {tmp}/train.txt\nsts_eval: {tmp}/dev.tsv\n",
               **{"train.txt": "a cat\na dog\n", "dev.tsv": TSV + "a cat\ta dog\t-\n"}), DataError,
     r"dev\.tsv, line 2: `score` must be a number, got '-'"),
]


@pytest.mark.parametrize("call,error,message", [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUT])
def test_bad_input_is_named_before_training(call, error, message, tiny_encoder_dir, tmp_path, quiet_args):
    assert_named_before_training(call, Env(tiny_encoder_dir, tmp_path, quiet_args), error, message)


def test_eval_prints_stsb_scores(tiny_encoder_dir, train_files, tmp_path, capsys):
    from hf_contrastive.modeling import build_sentence_transformer

    build_sentence_transformer(tiny_encoder_dir, pooler="avg").save(str(tmp_path / "m"))
    _, sts = train_files
    assert main(["eval", str(tmp_path / "m"), "--splits", "dev", "--sts-file", str(sts)]) == 0
    out = capsys.readouterr().out
    assert "\nSTS-B dev " in out and "\nsts.tsv " in out and "STS-B test" not in out
    assert "average" not in out and "Aggregation" not in out  # a dev split and a file: no average


@pytest.mark.real_weights
def test_demo_trains_evaluates_and_releases(tmp_path, capsys):
    output = tmp_path / "demo"
    assert main(["demo", "--output-dir", str(output), "--max-steps", "2", "--batch-size", "8",
                 "--eval-pairs", "64"]) == 0
    out = capsys.readouterr().out
    release = output / "release"
    assert f"SentenceTransformer({str(release)!r})" in out
    scores = json.loads((release / "demo_scores.json").read_text())
    assert set(scores["spearman_x100"]["after"]) == {"stsb-dev", "stsb-test"}
    card = (release / "README.md").read_text()
    assert "hf-contrastive" in card and "simcse" in card and "model-index" in card
    assert card.count("type: cosine_spearman") == 2, "only the released model's scores go in the model-index"
    after, before = (round(scores["spearman_x100"][when]["stsb-test"], 4) for when in ("after", "before"))
    assert f"| {after:.2f} | {before:.2f} | {after - before:+.2f} |" in card, "the base model's score beside it"
    assert "**Average**" not in card, "no average of a dev and a test split"
    assert (release / "training_curve.png").is_file() and (release / ".eval_results" / "STS-B_test.yaml").is_file()
    model = SentenceTransformer(str(release))
    assert model.max_seq_length == 256
    assert os.path.isfile(release / "model.safetensors")
    assert torch.isfinite(model.encode(["A man is eating food."], convert_to_tensor=True)).all()


def test_train_resume_goes_on_from_the_last_checkpoint(tiny_encoder_dir, train_files, tmp_path, capsys):
    text, _ = train_files
    output = tmp_path / "out"
    body = f"""
method: simcse
model: {tiny_encoder_dir}
train_file: {text}
output_dir: {output}
per_device_train_batch_size: 4
save_strategy: steps
save_steps: 2
use_cpu: true
report_to: none
"""
    assert main(["train", "--resume", write_config(tmp_path, body + "max_steps: 2\n")]) == 2  # nothing to resume
    assert "holds no complete checkpoint" in capsys.readouterr().err
    assert main(["train", write_config(tmp_path, body + "max_steps: 2\n")]) == 0
    first = (output / "checkpoint-2" / "model.safetensors").stat().st_mtime_ns
    assert main(["train", "--resume", write_config(tmp_path, body + "max_steps: 4\n")]) == 0
    assert json.loads((output / "checkpoint-4" / "trainer_state.json").read_text())["global_step"] == 4
    assert (output / "checkpoint-2" / "model.safetensors").stat().st_mtime_ns == first  # steps 1-2 not run again
