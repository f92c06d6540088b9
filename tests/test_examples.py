import importlib.util
import os
import sys

import pytest
import yaml
from sentence_transformers import SentenceTransformer

from hf_contrastive import DeCLUTRConfig, SFTContrastiveConfig, SimCSEConfig
from hf_contrastive.config_file import parse_config

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")


def load_example(name):
    sys.path.insert(0, EXAMPLES)
    try:
        spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(EXAMPLES)


@pytest.mark.parametrize("name,expected", [
    ("simcse_unsup", {"mode": "unsupervised", "pooler": "cls", "mlp_only_train": True, "learning_rate": 3e-5,
                      "per_device_train_batch_size": 64, "temperature": 0.05, "max_seq_length": 32,
                      "num_train_epochs": 1}),
    ("simcse_sup", {"mode": "supervised", "pooler": "cls", "mlp_only_train": False, "learning_rate": 5e-5,
                    "per_device_train_batch_size": 128, "temperature": 0.05, "max_seq_length": 32,
                    "num_train_epochs": 3}),
])
def test_paper_configs_parse_for_the_cli_and_the_script(name, expected):
    raw, args = parse_example_config(name, SimCSEConfig, "simcse_unsup")
    for key, value in expected.items():
        assert getattr(args, key) == value, key
    assert args.metric_for_best_model == "eval_sts-dev_spearman_cosine" and args.load_best_model_at_end


def parse_example_config(name, config_class, script):
    """Parse examples/NAME.yaml as `hf-contrastive train` does, and check the example script accepts every key."""
    path = os.path.join(EXAMPLES, f"{name}.yaml")
    with open(path) as f:
        raw = yaml.safe_load(f)
    args = parse_config(path, ["--fp16", "false", "--use_cpu"]).args  # fp16 needs a GPU
    assert type(args) is config_class
    script_arguments = load_example(script).ScriptArguments
    assert set(raw) <= set(script_arguments.__dataclass_fields__) | set(config_class.__dataclass_fields__)
    return raw, args


def test_declutr_paper_config():
    raw, args = parse_example_config("declutr", DeCLUTRConfig, "declutr")
    assert raw["method"] == "declutr" and raw["model"] == "distilroberta-base"
    expected = {"num_anchors": 2, "num_positives": 2, "min_span_len": 32, "max_span_len": 512, "temperature": 0.05,
                "do_mlm": True, "per_device_train_batch_size": 4, "learning_rate": 5e-5, "weight_decay": 0.1,
                "pooler": "avg", "dataloader_drop_last": True}
    for key, value in expected.items():
        assert getattr(args, key) == value, key


def test_sft_contrastive_config():
    raw, args = parse_example_config("sft_contrastive", SFTContrastiveConfig, "sft_contrastive")
    assert raw["method"] == "sft_contrastive" and raw["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert raw["dataset_split"] == "train[:1%]" and raw["unlabelled_split"] == "train[1%:]"  # few labels
    expected = {"strategy": "mixing", "labelled_per_batch": 0.5, "per_device_train_batch_size": 64,
                "negatives": "fine_tuned", "contrastive": "info_nce", "contrastive_weight": 1.0,
                "temperature": 0.05, "head_learning_rate": 1e-3, "metric_for_best_model": "eval_accuracy",
                "prediction_loss_only": False}
    for key, value in expected.items():
        assert getattr(args, key) == value, key


def test_sft_contrastive_example_runs(tiny_encoder_dir, sentences, tmp_path, capsys):
    train = tmp_path / "train.jsonl"
    train.write_text("".join(f'{{"text": "{s}", "label": "{"pet" if "cat" in s else "other"}"}}\n' for s in sentences))
    config = tmp_path / "config.yaml"
    config.write_text(f"model: {tiny_encoder_dir}\ntrain_file: {train}\neval_file: {train}\n"
                      f"output_dir: {tmp_path / 'out'}\nmax_steps: 2\nper_device_train_batch_size: 8\nuse_cpu: true\n"
                      "report_to: none\nsave_strategy: 'no'\n")
    load_example("sft_contrastive").main(str(config))
    out = capsys.readouterr().out
    assert "eval_accuracy" in out and "eval_sts-dev_spearman_cosine" in out and "sts-dev before" in out
    assert (tmp_path / "out" / "classifier" / "config.json").is_file()


def test_unsupervised_example_runs(tiny_encoder_dir, sentences, tmp_path, capsys):
    train = tmp_path / "train.txt"
    train.write_text("\n".join(sentences))
    config = tmp_path / "config.yaml"
    config.write_text(f"model: {tiny_encoder_dir}\ntrain_file: {train}\noutput_dir: {tmp_path / 'out'}\n"
                      "max_steps: 2\nper_device_train_batch_size: 8\nuse_cpu: true\nreport_to: none\n"
                      "save_strategy: 'no'\n")
    load_example("simcse_unsup").main(str(config))
    assert "sts-test_spearman_cosine" in capsys.readouterr().out
    assert [type(m).__name__ for m in SentenceTransformer(str(tmp_path / "out"))] == ["Transformer", "Pooling"]
