"""Adapters saved with peft's own API (not transformers' version-gated PEFT integration): the files transformers
writes, loaded back by plain sentence-transformers, and saved again from a loaded model."""

import json
import os

import pytest
import torch
from safetensors.torch import load_file
from sentence_transformers import SentenceTransformer

from hf_contrastive.modeling import build_sentence_transformer
from hf_contrastive.modeling.lora import (ADAPTER_WEIGHTS, adapters_disabled, add_lora, has_lora, lora_config,
                                          saving_adapters_with_peft)

peft = pytest.importorskip("peft")


def lora_model(model_dir):
    torch.manual_seed(0)
    model = build_sentence_transformer(model_dir, pooler="avg")
    add_lora(model, peft.LoraConfig(task_type=peft.TaskType.FEATURE_EXTRACTION, r=4, lora_alpha=8,
                                    target_modules=["query", "value"], init_lora_weights=False))  # random B
    return model.eval()


def save(model, folder):
    with saving_adapters_with_peft(model):
        model.save(str(folder))
    assert "save_pretrained" not in model.transformers_model.__dict__, "the transformer's own method is back"
    return str(folder)


def adapter_files(folder):
    with open(os.path.join(folder, "adapter_config.json"), encoding="utf-8") as file:
        return json.load(file), load_file(os.path.join(folder, ADAPTER_WEIGHTS))


def test_saved_adapters_load_with_plain_sentence_transformers_and_save_again(tiny_encoder_dir, sentences, tmp_path):
    model = lora_model(tiny_encoder_dir)
    folder = save(model, tmp_path / "saved")
    assert not os.path.exists(os.path.join(folder, "model.safetensors"))
    assert not os.path.exists(os.path.join(folder, "config.json")), "only the adapters, as transformers saves them"
    config, weights = adapter_files(folder)
    assert config["base_model_name_or_path"] == tiny_encoder_dir and config["r"] == 4
    lora_weights = {n: p for n, p in model.transformers_model.named_parameters() if "lora_" in n}
    assert len(weights) == len(lora_weights) == 12 and all(k.startswith("base_model.model.encoder.") for k in weights)

    loaded = SentenceTransformer(folder)  # transformers' load_adapter: no version gate
    assert has_lora(loaded) and lora_config(loaded).r == 4
    expected = model.encode(sentences, convert_to_tensor=True)
    assert torch.allclose(loaded.encode(sentences, convert_to_tensor=True), expected, atol=1e-6)
    with adapters_disabled(loaded):
        base = build_sentence_transformer(tiny_encoder_dir, pooler="avg").eval()
        assert torch.allclose(loaded.encode(sentences, convert_to_tensor=True),
                              base.encode(sentences, convert_to_tensor=True), atol=1e-6)
    assert torch.allclose(loaded.encode(sentences, convert_to_tensor=True), expected, atol=1e-6)

    again = save(loaded, tmp_path / "again")  # e.g. `hf-contrastive push DIR --adapter-only` of a saved model
    config_again, weights_again = adapter_files(again)
    assert config_again == config | {"inference_mode": True}  # loaded for inference (`is_trainable=False`)
    assert weights_again.keys() == weights.keys() and all(torch.equal(weights[k], weights_again[k]) for k in weights)


def test_adapter_files_are_those_of_transformers_integration(tiny_encoder_dir, tmp_path):
    from transformers.integrations.peft import MIN_PEFT_VERSION
    from transformers.utils import check_peft_version

    try:
        check_peft_version(MIN_PEFT_VERSION)
    except ValueError as error:
        pytest.skip(f"transformers' PEFT integration refuses peft {peft.__version__}: {error}")
    model = lora_model(tiny_encoder_dir)
    ours = save(model, tmp_path / "ours")
    model.save(str(tmp_path / "integration"))  # transformers' save_pretrained of a model with adapters
    assert sorted(os.listdir(ours)) == sorted(os.listdir(tmp_path / "integration"))
    config, weights = adapter_files(ours)
    config_theirs, weights_theirs = adapter_files(tmp_path / "integration")
    assert config == config_theirs
    assert weights.keys() == weights_theirs.keys() and all(torch.equal(weights[k], weights_theirs[k]) for k in weights)
