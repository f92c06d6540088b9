"""The floating-point precision of a training run, and why: `precision="auto"` trains in bf16 where the device
computes bf16 natively (a CUDA GPU with bf16, a CPU with AVX512-BF16 or AMX-BF16) and in fp32 elsewhere; an
explicit `precision`, the Trainer's own `bf16=` / `fp16=` or accelerate's `ACCELERATE_MIXED_PRECISION` wins.

`choose_precision` is the rule (pure: the hardware is passed in); `detect_hardware` asks torch about the device.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .settings import check_choice

PrecisionChoice = Literal["auto", "bf16", "fp16", "fp32"]  # `ContrastiveConfig.precision`
CPU_BF16_FEATURES = (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16"))  # torch.cpu.get_capabilities() keys


@dataclass(frozen=True)
class Hardware:
    """The device a run trains on: its type (`cpu`, `cuda`, ...), its name, whether it computes bf16 natively, and
    that capability in words (for the log and the model card)."""

    device: str
    name: str
    bf16: bool
    capability: str


@dataclass(frozen=True)
class Precision:
    """The precision a run trains in (`bf16`, `fp16` or `fp32`) and why, e.g. `bf16 (auto: CPU with AVX512-BF16)`."""

    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.value} ({self.reason})" if self.reason else self.value


def cpu_hardware(capabilities: Mapping[str, Any]) -> Hardware:
    """A CPU from `torch.cpu.get_capabilities()`: bf16 with AVX512-BF16 or AMX-BF16 (where oneDNN's bf16 matmuls
    run natively; elsewhere torch emulates bf16, slower than fp32)."""
    found = [name for key, name in CPU_BF16_FEATURES if capabilities.get(key)]
    capability = f"CPU with {' and '.join(found)}" if found else "CPU without AVX512-BF16 or AMX-BF16"
    return Hardware("cpu", str(capabilities.get("cpu_name") or "CPU"), bool(found), capability)


def cuda_hardware(name: str, compute_capability: tuple[int, int], bf16: bool) -> Hardware:
    """A CUDA (or ROCm) GPU; `bf16`: `torch.cuda.is_bf16_supported(including_emulation=False)` (compute capability
    8.0+, or ROCm)."""
    version = ".".join(map(str, compute_capability))
    capability = f"CUDA GPU {'with' if bf16 else 'without'} bf16 (compute capability {version})"
    return Hardware("cuda", name, bf16, capability)


def training_device(use_cpu: bool) -> str:
    """The type of device transformers will train on (`TrainingArguments._setup_devices`), found without setting it
    up: `cpu` with `use_cpu` (or `ACCELERATE_USE_CPU`), else torch's accelerator (`cuda`, `mps`, `xpu`, ...), XLA,
    or `cpu`."""
    from transformers.utils import is_torch_xla_available, strtobool

    if use_cpu or strtobool(os.environ.get("ACCELERATE_USE_CPU", "False")):
        return "cpu"
    if is_torch_xla_available():
        return "xla"
    import torch

    accelerator = torch.accelerator.current_accelerator()
    return "cpu" if accelerator is None else accelerator.type


def detect_hardware(use_cpu: bool) -> Hardware:
    """The training device and whether it computes bf16 natively, as torch reports them."""
    import torch

    device = training_device(use_cpu)
    if device == "cpu":
        return cpu_hardware(torch.cpu.get_capabilities())
    if device == "cuda":
        return cuda_hardware(torch.cuda.get_device_name(), torch.cuda.get_device_capability(),
                             torch.cuda.is_bf16_supported(including_emulation=False))
    return Hardware(device, device, False, f"{device} (no bf16 rule for it: fp32 unless set)")


def choose_precision(precision: PrecisionChoice, *, bf16: bool, fp16: bool, hardware: Hardware,
                     accelerate_mixed_precision: str = "no") -> Precision:
    """The rule. Explicit requests (`precision` other than `auto`, `bf16=True`, `fp16=True`, accelerate's
    `ACCELERATE_MIXED_PRECISION=bf16|fp16`) must agree, and win; with none, `auto` is bf16 where `hardware` computes
    bf16 natively and fp32 elsewhere. `ValueError` naming both sides when two requests disagree.

    >>> cpu = Hardware("cpu", "CPU", bf16=True, capability="CPU with AVX512-BF16")
    >>> str(choose_precision("auto", bf16=False, fp16=False, hardware=cpu))
    'bf16 (auto: CPU with AVX512-BF16)'
    >>> str(choose_precision("fp32", bf16=False, fp16=False, hardware=cpu))
    "fp32 (precision='fp32')"
    """
    check_choice(precision, PrecisionChoice, "precision")
    requests = [(precision, f"precision={precision!r}")] if precision != "auto" else []
    requests += [(name, f"{name}=True") for name, on in (("bf16", bf16), ("fp16", fp16)) if on]
    if accelerate_mixed_precision in ("bf16", "fp16"):
        requests.append((accelerate_mixed_precision, f"ACCELERATE_MIXED_PRECISION={accelerate_mixed_precision}"))
    values = {value for value, _ in requests}
    if len(values) > 1:
        raise ValueError(f"{' and '.join(f'`{why}`' for _, why in requests)} ask for different precisions: "
                         "set one of them (`precision` is `auto`, `bf16`, `fp16` or `fp32`).")
    if requests:
        return Precision(requests[0][0], ", ".join(why for _, why in requests))
    return Precision("bf16" if hardware.bf16 else "fp32", f"auto: {hardware.capability}")


def precision_in_effect(args: Any) -> Precision:
    """What `args` train in: their `chosen_precision` (set by `ContrastiveConfig`), or, when `bf16` / `fp16` were
    changed after it was chosen (or the arguments are not a `ContrastiveConfig`), the flags without a reason."""
    value = "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"
    chosen = getattr(args, "chosen_precision", None)
    return chosen if chosen is not None and chosen.value == value else Precision(value, "")


def precision_message(chosen: Precision, hardware: Hardware) -> tuple[int, str]:
    """The log level and line of a run's precision: a warning when `auto` chose mixed precision (numerics the user
    did not ask for), else info."""
    level = logging.WARNING if chosen.value != "fp32" and chosen.reason.startswith("auto") else logging.INFO
    return level, (f"Training precision: {chosen}, on {hardware.device} ({hardware.name}: {hardware.capability}). "
                   "Set `precision` (auto, bf16, fp16, fp32) to choose it.")


def remove_training_autocast(model: Any) -> None:
    """Take off `model.forward` the autocast that accelerate wraps it in for mixed-precision training and leaves there
    after training, so that the trained model computes in fp32 what the saved model computes when reloaded (the
    weights are fp32 throughout; only the forward pass was cast)."""
    from accelerate.utils import extract_model_from_parallel

    extract_model_from_parallel(model, keep_fp32_wrapper=False)
