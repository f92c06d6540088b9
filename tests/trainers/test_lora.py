import os

import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file
from sentence_transformers import SentenceTransformer

from hf_contrastive import DeCLUTRConfig, DeCLUTRTrainer, SimCSEConfig, SimCSETrainer
from hf_contrastive.cli import main
from hf_contrastive.modeling.lora import active_adapter, adapters_disabled, add_lora
from tests.helpers.training import sts_dev

peft = pytest.importorskip("peft")


def lora(**kwargs):
    return peft.LoraConfig(task_type=peft.TaskType.FEATURE_EXTRACTION, r=4, lora_alpha=8,
                           target_modules=["query", "value"], **kwargs)


def snapshot(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def test_only_adapters_and_heads_train(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = SimCSEConfig(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=8, learning_rate=1e-2,
                        pooler="cls", mlp_only_train=False, do_mlm=True, **quiet_args)
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, peft_config=lora(),
                            train_dataset=Dataset.from_dict({"text": sentences}))
    model_before, loss_before = snapshot(trainer.model), snapshot(trainer.loss.mlm)
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("2.") for n in trainable), trainable  # 2 = the cls Dense
    trainer.train()
    after = dict(trainer.model.named_parameters())
    for name, before in model_before.items():
        changed = not torch.equal(before, after[name])
        assert changed == (name in trainable and "pooler.dense" not in name), name
    assert all(not torch.equal(p, dict(trainer.loss.mlm.named_parameters())[n]) for n, p in loss_before.items())

    trainer.save_model(args.output_dir)
    assert os.path.isfile(os.path.join(args.output_dir, "adapter_config.json"))
    assert not os.path.isfile(os.path.join(args.output_dir, "model.safetensors"))
    trainer.model.eval()
    reloaded = SentenceTransformer(args.output_dir)
    assert torch.allclose(reloaded.encode(sentences, convert_to_tensor=True),
                          trainer.model.encode(sentences, convert_to_tensor=True), atol=1e-6)


def test_adapters_off_is_the_pretrained_model(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    base = SimCSETrainer(model=tiny_encoder_dir, args=SimCSEConfig(output_dir=str(tmp_path), pooler="avg",
                                                                   **quiet_args)).model
    base.eval()
    expected = base.encode(sentences, convert_to_tensor=True)
    args = SimCSEConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=8, learning_rate=1e-2,
                        pooler="avg", **quiet_args)
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, peft_config=lora(),
                            train_dataset=Dataset.from_dict({"text": sentences}))
    trainer.train()
    model = trainer.model
    model.eval()
    assert not torch.allclose(model.encode(sentences, convert_to_tensor=True), expected, atol=1e-4)
    with adapters_disabled(model):
        assert torch.allclose(model.encode(sentences, convert_to_tensor=True), expected, atol=1e-6)
    assert not torch.allclose(model.encode(sentences, convert_to_tensor=True), expected, atol=1e-4)


def test_best_checkpoint_with_adapters(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = SimCSEConfig(output_dir=str(tmp_path), max_steps=4, per_device_train_batch_size=8, learning_rate=1e-2,
                        pooler="avg", eval_strategy="steps", eval_steps=2, save_steps=2,
                        load_best_model_at_end=True, metric_for_best_model="eval_sts-dev_spearman_cosine",
                        use_peft=True, lora_r=4, lora_target_modules=["query", "value"],
                        **(quiet_args | {"save_strategy": "steps"}))
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}),
                            eval_dataset=sts_dev(sentences))
    trainer.train()
    best = trainer.state.best_model_checkpoint
    saved = load_file(os.path.join(best, "adapter_model.safetensors"))
    current = {n: p for n, p in trainer.model.named_parameters() if "lora_" in n}
    with torch.no_grad():  # whatever was loaded at the end, loading the best checkpoint again must restore it
        for parameter in current.values():
            parameter.add_(1.0)
    trainer._load_from_checkpoint(best)
    assert len(saved) == len(current) == 12
    for name, tensor in saved.items():
        match = [p for n, p in current.items() if n.endswith(name.split("base_model.model.")[-1].replace(
            ".weight", ".default.weight"))]
        assert len(match) == 1 and torch.equal(match[0].detach(), tensor), name


def test_declutr_with_lora(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    documents = Dataset.from_dict({"text": [" . ".join(sentences[i:] + sentences[:i]) for i in range(6)]})
    args = DeCLUTRConfig(output_dir=str(tmp_path), max_steps=2, min_span_len=4, max_span_len=24,
                         per_device_train_batch_size=2, **quiet_args)
    trainer = DeCLUTRTrainer(model=tiny_encoder_dir, args=args, peft_config=lora(), train_dataset=documents)
    trainer.train()
    assert all("lora_" in n for n, p in trainer.model.named_parameters() if p.requires_grad)


def test_lora_fields_from_yaml(tiny_encoder_dir, sentences, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("\n".join(sentences))
    config = tmp_path / "c.yaml"
    config.write_text(f"model: {tiny_encoder_dir}\ntrain_file: {text}\noutput_dir: {tmp_path / 'out'}\n"
                      "pooler: avg\nmax_steps: 1\nper_device_train_batch_size: 8\nuse_cpu: true\nreport_to: none\n"
                      "use_peft: true\nlora_r: 4\nlora_target_modules: [query, value]\n")
    assert main(["train", str(config)]) == 0
    adapter = (tmp_path / "out" / "adapter_config.json").read_text()
    assert '"r": 4' in adapter and "query" in adapter


@pytest.mark.parametrize("kwargs,message", [({"lora_r": 0}, "`lora_r` must be >= 1, got 0"),
                                            ({"lora_dropout": 1.0}, r"`lora_dropout` must be in \[0, 1\), got 1.0")])
def test_lora_field_errors(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SimCSEConfig(output_dir=str(tmp_path), **kwargs)


def tensor_bytes(*modules):
    """Bytes of the distinct tensor storages reachable from `modules` (shared tensors counted once)."""
    storages = {}
    for module in modules:
        for tensor in module.state_dict(keep_vars=True).values():
            storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
    return sum(storages.values())


def test_sft_reference_under_lora_is_the_pretrained_model_without_a_copy(tiny_encoder_dir, sentences, tmp_path,
                                                                         quiet_args):
    from hf_contrastive import SFTContrastiveConfig, SFTContrastiveTrainer
    from hf_contrastive.modeling import build_sentence_transformer

    pretrained = build_sentence_transformer(tiny_encoder_dir, pooler="avg").eval()
    data = Dataset.from_dict({"text": sentences, "label": [i % 2 for i in range(len(sentences))]})
    args = SFTContrastiveConfig(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=8,
                                learning_rate=1e-2, **quiet_args)
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, peft_config=lora(), train_dataset=data)
    reference = trainer.loss.reference
    assert reference.mode == "adapters" and reference.copy is None
    model_bytes = tensor_bytes(trainer.model)
    assert tensor_bytes(trainer.model, trainer.loss) == model_bytes + tensor_bytes(trainer.loss.head)  # no 2nd copy
    trainer.train()
    model = trainer.model
    features = dict(model.preprocess(sentences))
    (got,) = reference(model, [features])
    assert torch.allclose(got, pretrained.encode(sentences, convert_to_tensor=True), atol=1e-5)
    model.eval()
    trained = model.encode(sentences, convert_to_tensor=True)
    assert not torch.allclose(trained, got, atol=1e-3), "the adapters trained and are enabled again"


def test_sft_reference_forward_keeps_the_training_mode_and_adapters(tiny_encoder_dir, sentences):
    from hf_contrastive.modeling import build_sentence_transformer
    from hf_contrastive.modeling.reference import FrozenReference

    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    add_lora(model, lora())
    model.train()
    adapter_weights = [p for n, p in model.named_parameters() if "lora_" in n]
    FrozenReference(model)(model, [dict(model.preprocess(sentences[:4]))])
    assert model.training and active_adapter(model) == "default"
    assert all(p.requires_grad for p in adapter_weights), "the adapters are on and trainable again"


def test_sft_under_lora_trains_only_adapters_and_the_head(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    from hf_contrastive import SFTContrastiveConfig, SFTContrastiveTrainer

    data = Dataset.from_dict({"text": sentences, "label": [i % 2 for i in range(len(sentences))]})
    args = SFTContrastiveConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=8,
                                learning_rate=1e-2, **quiet_args)
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, peft_config=lora(), train_dataset=data)
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable), trainable
    model_before, head_before = snapshot(trainer.model), snapshot(trainer.loss.head)
    trainer.train()
    after = dict(trainer.model.named_parameters())
    for name, before in model_before.items():
        assert (not torch.equal(before, after[name])) == (name in trainable), name
    assert all(not torch.equal(p, dict(trainer.loss.head.named_parameters())[n]) for n, p in head_before.items())
