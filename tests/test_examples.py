import importlib.util
import os

import pytest
import yaml
from sentence_transformers import SentenceTransformer

from hf_contrastive import TRAINERS, DeCLUTRConfig, SFTContrastiveConfig, SimCSEConfig, SupConConfig
from hf_contrastive.config_file import parse_config
from tests.helpers import ROOT

EXAMPLES = os.path.join(ROOT, "examples")
CPU = os.path.join(EXAMPLES, "cpu")


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name,expected", [
    ("simcse_unsup", {"mode": "unsupervised", "pooler": "cls", "mlp_only_train": True, "learning_rate": 3e-5,
                      "per_device_train_batch_size": 64, "temperature": 0.05, "max_seq_length": 32,
                      "num_train_epochs": 1}),
    ("simcse_sup", {"mode": "supervised", "pooler": "cls", "mlp_only_train": False, "learning_rate": 5e-5,
                    "per_device_train_batch_size": 128, "temperature": 0.05, "max_seq_length": 32,
                    "num_train_epochs": 3}),
])
def test_paper_configs_parse_for_the_cli_and_the_script(name, expected):
    raw, args = parse_example_config(name, SimCSEConfig)
    for key, value in expected.items():
        assert getattr(args, key) == value, key
    assert args.metric_for_best_model == "eval_sts-dev_spearman_cosine" and args.load_best_model_at_end


def parse_example_config(name, config_class):
    """Parse examples/gpu/NAME.yaml as `hf-contrastive train` (and examples/train.py) does."""
    path = os.path.join(EXAMPLES, "gpu", f"{name}.yaml")
    with open(path) as f:
        raw = yaml.safe_load(f)
    args = parse_config(path, ["--fp16", "false", "--use_cpu"]).args  # fp16 needs a GPU
    assert type(args) is config_class
    return raw, args


def test_declutr_paper_config():
    raw, args = parse_example_config("declutr", DeCLUTRConfig)
    assert raw["method"] == "declutr" and raw["model"] == "distilroberta-base"
    expected = {"num_anchors": 2, "num_positives": 2, "min_span_len": 32, "max_span_len": 512, "temperature": 0.05,
                "do_mlm": True, "per_device_train_batch_size": 4, "learning_rate": 5e-5, "weight_decay": 0.1,
                "pooler": "avg", "dataloader_drop_last": True}
    for key, value in expected.items():
        assert getattr(args, key) == value, key


def test_sft_contrastive_config():
    raw, args = parse_example_config("sft_contrastive", SFTContrastiveConfig)
    assert raw["method"] == "sft_contrastive" and raw["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert raw["dataset_split"] == "train[:1%]" and raw["unlabelled_split"] == "train[1%:]"  # few labels
    expected = {"strategy": "mixing", "labelled_per_batch": 0.5, "per_device_train_batch_size": 64,
                "negatives": "fine_tuned", "contrastive": "info_nce", "contrastive_weight": 1.0,
                "temperature": 0.05, "head_learning_rate": 1e-3, "metric_for_best_model": "eval_accuracy",
                "prediction_loss_only": False}
    for key, value in expected.items():
        assert getattr(args, key) == value, key


CPU_CONFIGS = sorted(name for name in os.listdir(CPU) if name.endswith(".yaml")
                     and name != "space.yaml")


def short_run(tiny_encoder_dir, tmp_path):
    """Overrides that make a CPU example a few steps of the tiny model."""
    return ["--model", tiny_encoder_dir, "--max_steps", "2", "--output_dir", str(tmp_path / "out"),
            "--eval_strategy", "no", "--report_to", "none", "--precision", "fp32"]


def test_supcon_config():
    raw, args = parse_example_config("supcon", SupConConfig)
    assert raw["method"] == "supcon" and raw["dataset_name"] == "fancyzhx/ag_news"
    expected = {"num_views": 2, "temperature": 0.07, "base_temperature": 0.07, "contrast_mode": "all",
                "per_device_train_batch_size": 256, "max_seq_length": 64}
    for key, value in expected.items():
        assert getattr(args, key) == value, key


def test_every_method_has_a_cpu_example():
    methods = {yaml.safe_load(open(os.path.join(CPU, name)))["method"] for name in CPU_CONFIGS}
    assert methods == set(TRAINERS)


@pytest.mark.parametrize("name", CPU_CONFIGS)
def test_cpu_example_trains_with_the_scores_before_and_after(name, tiny_encoder_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the configs name the shipped data from the repository's root
    scores = load_example("train").main([os.path.join(CPU, name), *short_run(tiny_encoder_dir, tmp_path)])
    assert "before_sts-dev_spearman_cosine" in scores and "eval_sts-dev_spearman_cosine" in scores
    assert "before_sts-dev_spearman_cosine" in capsys.readouterr().out
    assert SentenceTransformer(str(tmp_path / "out")) is not None
    if name == "sft_contrastive.yaml":
        assert "eval_accuracy" in scores and (tmp_path / "out" / "classifier" / "config.json").is_file()


def test_lora_example_releases_merged(tiny_encoder_dir, tmp_path, monkeypatch, capsys):
    """Merged, a plain model; adapter-only needs the base model's Hub id, so a local tiny base is skipped with the
    reason (adapter-only releases are tested in tests/hub)."""
    monkeypatch.chdir(ROOT)
    load_example("release_locally").main([os.path.join(CPU, "simcse_lora.yaml"),
                                          *short_run(tiny_encoder_dir, tmp_path)])
    merged = tmp_path / "out" / "release-merged"
    assert (merged / "model.safetensors").is_file() and not (merged / "adapter_config.json").exists()
    assert "LoRA" in (merged / "README.md").read_text()
    out = capsys.readouterr().out
    assert "merged:" in out and "adapters: skipped" in out and not (tmp_path / "out" / "release-adapters").exists()


def test_the_search_space_example_parses():
    from hf_contrastive import SimCSETrainer
    from hf_contrastive.tuning import read_search_space

    assert set(read_search_space(os.path.join(CPU, "space.yaml"), SimCSETrainer)) == {
        "learning_rate", "temperature", "per_device_train_batch_size"}


def test_the_search_example_runs_and_writes_the_best_config(tiny_encoder_dir, tmp_path, monkeypatch):
    from hf_contrastive.cli import main

    monkeypatch.chdir(ROOT)
    best = tmp_path / "best.yaml"
    assert main(["tune", os.path.join(CPU, "simcse_unsup.yaml"), "--n-trials", "1",
                 "--search-space", os.path.join(CPU, "space.yaml"), "--output", str(best),
                 *short_run(tiny_encoder_dir, tmp_path)]) == 0
    assert {"learning_rate", "temperature", "per_device_train_batch_size"} <= set(yaml.safe_load(best.read_text()))


def test_the_suites_example_runs(tiny_encoder_dir, monkeypatch, capsys):
    from hf_contrastive.cli import main

    monkeypatch.chdir(ROOT)
    assert main(["eval", tiny_encoder_dir, "--suite", "sts", "transfer", "--tasks", "STSBenchmark", "TREC",
                 "--transfer-dir", "benchmarks/data/senteval", "--max-train-rows", "200"]) == 0
    out = capsys.readouterr().out
    assert "STSBenchmark" in out and "TREC" in out
