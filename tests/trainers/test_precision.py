"""`precision="auto"`: the rule with the hardware faked (a CPU with and without AVX512-BF16 / AMX-BF16, a CUDA GPU
with and without bf16), explicit settings winning, conflicts named, the config's resolution before transformers'
checks, the trainer's log line and the model card's row. bf16 autocast runs on any CPU (emulated where the CPU has
no bf16 instructions), so the bf16 runs here work on this machine too, only slower."""

import logging

import pytest
import torch
from datasets import Dataset

from hf_contrastive import SimCSEConfig, SimCSETrainer
from hf_contrastive.precision import (Hardware, choose_precision, cpu_hardware, cuda_hardware, detect_hardware,
                                      precision_in_effect, precision_message)

# torch.cpu.get_capabilities() of this project's machine (AMD EPYC, Zen 3: AVX2, no AVX-512), abridged
ZEN3 = {"architecture": "x86_64", "cpu_name": "AMD EPYC", "avx2": True, "avx512_f": False, "avx512_bf16": False,
        "amx_tile": False, "amx_bf16": False}
ZEN4 = ZEN3 | {"avx512_f": True, "avx512_bf16": True}  # AMD Zen 4: AVX512-BF16
SAPPHIRE_RAPIDS = ZEN3 | {"cpu_name": "Intel Xeon", "avx512_f": True, "avx512_bf16": True, "amx_tile": True,
                          "amx_bf16": True}

BF16_CPU = cpu_hardware(ZEN4)
PLAIN_CPU = cpu_hardware(ZEN3)


@pytest.fixture()
def fake_cpu(monkeypatch):
    """Make torch report the given CPU capabilities, and no accelerator."""
    def fake(capabilities):
        monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: capabilities)
        monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda *a, **k: None)
        monkeypatch.delenv("ACCELERATE_MIXED_PRECISION", raising=False)
        monkeypatch.delenv("ACCELERATE_USE_CPU", raising=False)
    return fake


def fake_cuda(monkeypatch, compute_capability, native_bf16):
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda *a, **k: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA Test GPU")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: compute_capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: native_bf16)


@pytest.mark.parametrize("capabilities, bf16, capability", [
    (ZEN3, False, "CPU without AVX512-BF16 or AMX-BF16"),
    (ZEN4, True, "CPU with AVX512-BF16"),
    (SAPPHIRE_RAPIDS, True, "CPU with AMX-BF16 and AVX512-BF16"),
    ({"architecture": "arm64"}, False, "CPU without AVX512-BF16 or AMX-BF16"),
])
def test_cpu_bf16_from_torch_capabilities(capabilities, bf16, capability):
    hardware = cpu_hardware(capabilities)
    assert (hardware.device, hardware.bf16, hardware.capability) == ("cpu", bf16, capability)


@pytest.mark.parametrize("capabilities, expected", [(ZEN3, "fp32 (auto: CPU without AVX512-BF16 or AMX-BF16)"),
                                                    (ZEN4, "bf16 (auto: CPU with AVX512-BF16)")])
def test_auto_on_a_cpu_as_torch_reports_it(fake_cpu, capabilities, expected):
    fake_cpu(capabilities)
    hardware = detect_hardware(use_cpu=False)
    assert str(choose_precision("auto", bf16=False, fp16=False, hardware=hardware)) == expected


@pytest.mark.parametrize("compute_capability, native, expected", [
    ((9, 0), True, "bf16 (auto: CUDA GPU with bf16 (compute capability 9.0))"),
    ((7, 5), False, "fp32 (auto: CUDA GPU without bf16 (compute capability 7.5))"),
])
def test_auto_on_a_cuda_gpu(monkeypatch, fake_cpu, compute_capability, native, expected):
    fake_cpu(ZEN4)  # the host CPU does not decide when the run trains on the GPU
    fake_cuda(monkeypatch, compute_capability, native)
    hardware = detect_hardware(use_cpu=False)
    assert (hardware.device, hardware.name) == ("cuda", "NVIDIA Test GPU")
    assert str(choose_precision("auto", bf16=False, fp16=False, hardware=hardware)) == expected


def test_use_cpu_trains_on_the_cpu_beside_a_gpu(monkeypatch, fake_cpu):
    fake_cpu(ZEN3)
    fake_cuda(monkeypatch, (9, 0), True)
    assert detect_hardware(use_cpu=True) == PLAIN_CPU
    monkeypatch.setenv("ACCELERATE_USE_CPU", "true")
    assert detect_hardware(use_cpu=False) == PLAIN_CPU


def test_cuda_hardware_describes_the_gpu():
    assert cuda_hardware("H200", (9, 0), True) == Hardware("cuda", "H200", True,
                                                           "CUDA GPU with bf16 (compute capability 9.0)")


@pytest.mark.parametrize("precision, flags, hardware, expected", [
    ("fp32", {}, BF16_CPU, "fp32 (precision='fp32')"),
    ("bf16", {}, PLAIN_CPU, "bf16 (precision='bf16')"),  # slow without the instructions, but asked for
    ("fp16", {}, BF16_CPU, "fp16 (precision='fp16')"),
    ("auto", {"bf16": True}, PLAIN_CPU, "bf16 (bf16=True)"),
    ("auto", {"fp16": True}, BF16_CPU, "fp16 (fp16=True)"),
    ("bf16", {"bf16": True}, PLAIN_CPU, "bf16 (precision='bf16', bf16=True)"),
    ("auto", {"accelerate_mixed_precision": "fp16"}, BF16_CPU, "fp16 (ACCELERATE_MIXED_PRECISION=fp16)"),
    ("auto", {"accelerate_mixed_precision": "no"}, BF16_CPU, "bf16 (auto: CPU with AVX512-BF16)"),
])
def test_an_explicit_setting_wins_over_the_hardware(precision, flags, hardware, expected):
    flags = {"bf16": False, "fp16": False} | flags
    assert str(choose_precision(precision, hardware=hardware, **flags)) == expected


@pytest.mark.parametrize("precision, flags, named", [
    ("fp32", {"bf16": True}, ["`precision='fp32'`", "`bf16=True`"]),
    ("bf16", {"fp16": True}, ["`precision='bf16'`", "`fp16=True`"]),
    ("auto", {"bf16": True, "fp16": True}, ["`bf16=True`", "`fp16=True`"]),
    ("fp32", {"accelerate_mixed_precision": "bf16"}, ["`precision='fp32'`", "`ACCELERATE_MIXED_PRECISION=bf16`"]),
])
def test_conflicting_settings_are_an_error_naming_both(precision, flags, named):
    flags = {"bf16": False, "fp16": False} | flags
    with pytest.raises(ValueError) as error:
        choose_precision(precision, hardware=BF16_CPU, **flags)
    assert all(name in str(error.value) for name in named), error.value


def test_an_unknown_precision_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"`precision` must be one of .* got 'half'"):
        choose_precision("half", bf16=False, fp16=False, hardware=BF16_CPU)


@pytest.mark.parametrize("capabilities, bf16", [(ZEN4, True), (ZEN3, False)])
def test_the_config_resolves_auto_before_transformers_checks(tmp_path, fake_cpu, capabilities, bf16):
    """On a machine without an accelerator transformers refuses `bf16=True` unless `use_cpu=True`: `auto` choosing
    bf16 on a CPU sets it (the run is on the CPU either way)."""
    fake_cpu(capabilities)
    args = SimCSEConfig(output_dir=str(tmp_path))
    assert args.precision == "auto" and args.bf16 is bf16 and not args.fp16
    assert args.mixed_precision == ("bf16" if bf16 else "no")  # what accelerate will train in
    assert args.use_cpu is bf16 and args.device.type == "cpu"


def test_the_trainers_bf16_flag_is_kept_under_auto(tmp_path, fake_cpu):
    fake_cpu(ZEN3)
    args = SimCSEConfig(output_dir=str(tmp_path), bf16=True)
    assert args.bf16 and args.use_cpu and str(args.chosen_precision) == "bf16 (bf16=True)"


def test_the_config_refuses_conflicting_settings(tmp_path, fake_cpu):
    fake_cpu(ZEN4)
    with pytest.raises(ValueError, match=r"`precision='fp32'` and `bf16=True` ask for different precisions"):
        SimCSEConfig(output_dir=str(tmp_path), precision="fp32", bf16=True)


def test_explicit_fp32_on_a_bf16_cpu(tmp_path, fake_cpu):
    fake_cpu(ZEN4)
    args = SimCSEConfig(output_dir=str(tmp_path), precision="fp32")
    assert not args.bf16 and not args.use_cpu and args.mixed_precision == "no"


def test_a_flag_changed_after_the_choice_is_what_the_run_uses(tmp_path, fake_cpu):
    fake_cpu(ZEN3)
    args = SimCSEConfig(output_dir=str(tmp_path))
    args.bf16 = True  # e.g. by a hyperparameter search
    assert str(precision_in_effect(args)) == "bf16"


def test_log_level_warns_only_when_auto_chose_mixed_precision():
    assert precision_message(choose_precision("auto", bf16=False, fp16=False, hardware=BF16_CPU), BF16_CPU)[0] \
        == logging.WARNING
    for precision, hardware in [("auto", PLAIN_CPU), ("bf16", BF16_CPU), ("fp32", BF16_CPU)]:
        chosen = choose_precision(precision, bf16=False, fp16=False, hardware=hardware)
        assert precision_message(chosen, hardware)[0] == logging.INFO


@pytest.mark.parametrize("capabilities, precision, row, level", [
    (ZEN4, "auto", "bf16 (auto: CPU with AVX512-BF16)", logging.WARNING),
    (ZEN3, "auto", "fp32 (auto: CPU without AVX512-BF16 or AMX-BF16)", logging.INFO),
    (ZEN4, "fp32", "fp32 (precision='fp32')", logging.INFO),
])
def test_trainer_logs_the_choice_and_the_card_states_it(tiny_encoder_dir, sentences, tmp_path, quiet_args, fake_cpu,
                                                         caplog, capabilities, precision, row, level):
    fake_cpu(capabilities)
    args = SimCSEConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=8,
                        **(quiet_args | {"use_cpu": False, "precision": precision}))
    with caplog.at_level(logging.INFO, logger="hf_contrastive"):
        trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
    lines = [r for r in caplog.records if r.name.startswith("hf_contrastive") and "Training precision" in r.message]
    assert len(lines) == 1 and lines[0].levelno == level
    assert f"Training precision: {row}, on cpu (AMD EPYC: " in lines[0].message
    trainer.train()
    assert trainer.card_data().hyperparameters["precision"] == row


def test_after_bf16_training_the_model_encodes_as_the_saved_one(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    """accelerate leaves its autocast on `model.forward` after mixed-precision training; the trainer takes it off, so
    `trainer.model.encode` gives the fp32 embeddings that the saved model gives when reloaded."""
    from sentence_transformers import SentenceTransformer

    args = SimCSEConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=8, learning_rate=1e-2,
                        pooler="avg", **(quiet_args | {"precision": "bf16"}))
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
    seen = []
    trainer.model[0].register_forward_hook(lambda *_: seen.append(torch.is_autocast_enabled("cpu")))
    trainer.train()
    assert seen and all(seen), "training ran in bf16 autocast"
    trainer.save_model()
    trained = trainer.model.encode(sentences, convert_to_tensor=True)
    assert trained.dtype == torch.float32 and not seen[-1]  # the last forward (encode) ran without autocast
    assert torch.equal(trained, SentenceTransformer(str(tmp_path)).encode(sentences, convert_to_tensor=True))
