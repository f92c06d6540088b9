"""LoRA through PEFT: the config from the trainer's fields, adapters added to a SentenceTransformer, switched off,
merged and saved.

Everything here uses peft's own API (`peft.functional`, the tuner layers), never transformers' PEFT integration
(`model.add_adapter`, `disable_adapters`, `active_adapters`, `get_adapter_state_dict`, and `save_pretrained` of a
model with adapters): that integration refuses every peft release older than the one it names (transformers 5.24
asks for peft >= 0.22, which is not published), although its code is the same as with the peft it accepted before.
The model is left in the state transformers' integration would leave it (adapter `default`, `peft_config`,
`_hf_peft_config_loaded`), so sentence-transformers loads what is saved here, and its own adapter methods work on the
model wherever transformers accepts the installed peft. Loading a saved adapter folder (`SentenceTransformer(path)`)
goes through transformers' `load_adapter`, which has no version gate.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import MethodType
from typing import Any

from safetensors.torch import save_file
from sentence_transformers import SentenceTransformer
from torch import nn

from ..errors import MissingExtraError

ADAPTER_NAME = "default"  # peft's and transformers' name for a single adapter
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."  # peft's key prefix in an adapter file (a PeftModel's path to the base model)


def _import_peft():
    try:
        import peft
    except ImportError:
        raise MissingExtraError("LoRA", "peft") from None
    return peft


def lora_config_from_args(args: Any):
    """A `peft.LoraConfig` (feature extraction) from the config's `lora_*` fields (TRL's `get_peft_config`)."""
    peft = _import_peft()
    LoraConfig, TaskType = peft.LoraConfig, peft.TaskType

    return LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=args.lora_r, lora_alpha=args.lora_alpha,
                      lora_dropout=args.lora_dropout, target_modules=args.lora_target_modules)


def _adapter_modules(module: nn.Module) -> list[nn.Module]:
    """The peft modules inside `module` that switch with the adapters: the tuner layers (LoRA's `Linear`, ...) and
    the wrappers of `modules_to_save` (what peft's own `disable_adapter_layers` switches). None without peft."""
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
        from peft.utils.other import AuxiliaryTrainingWrapper
    except ImportError:
        return []
    return [m for m in module.modules() if isinstance(m, (BaseTunerLayer, AuxiliaryTrainingWrapper))]


def _tuner_layers(module: nn.Module) -> list[nn.Module]:
    from peft.tuners.tuners_utils import BaseTunerLayer

    return [m for m in _adapter_modules(module) if isinstance(m, BaseTunerLayer)]


def has_lora(model: nn.Module) -> bool:
    """Whether the model (a SentenceTransformer or its transformer) carries peft adapters."""
    return bool(_adapter_modules(model))


def add_lora(model: SentenceTransformer, peft_config: Any) -> SentenceTransformer:
    """Add `peft_config`'s adapters to the model's transformer: its own weights freeze and only the adapters train
    (modules after it, such as SimCSE's MLP, stay trainable). The model is changed in place and returned."""
    _import_peft()
    from peft.functional import inject_adapter_in_model

    transformer = model.transformers_model
    if transformer is None:
        raise ValueError("LoRA needs a transformers model as the SentenceTransformer's first module.")
    if has_lora(transformer):
        raise ValueError("The model already carries peft adapters; pass `peft_config` only for a model without them.")
    peft_config.base_model_name_or_path = transformer.__dict__.get("name_or_path")  # as transformers' add_adapter
    inject_adapter_in_model(peft_config, transformer, ADAPTER_NAME)  # sets `transformer.peft_config`
    transformer._hf_peft_config_loaded = True  # transformers' mark of a model with adapters (save, checkpointing)
    return model


def active_adapter(model: nn.Module) -> str:
    """The name of the model's one active adapter (`default` for adapters added here)."""
    active = _tuner_layers(model)[0].active_adapters
    if len(active) != 1:
        raise ValueError(f"Expected one active adapter, found {active}; activate one with "
                         "`peft.functional.set_adapter`.")
    return active[0]


def lora_config(model: nn.Module) -> Any:
    """The `peft.LoraConfig` (or other `PeftConfig`) of the model's active adapter; `None` without adapters."""
    if not has_lora(model):
        return None
    transformer = getattr(model, "transformers_model", None)
    return (model if transformer is None else transformer).peft_config[active_adapter(model)]


@contextmanager
def adapters_disabled(model: nn.Module) -> Iterator[None]:
    """The model without its adapters (the pretrained model) inside the block; each adapter module back in its
    earlier state after. peft's `enable_adapters` switches the adapters' `requires_grad` with them."""
    modules = _adapter_modules(model)
    was_disabled = [m.disable_adapters for m in modules]
    for module in modules:
        module.enable_adapters(False)
    try:
        yield
    finally:
        for module, disabled in zip(modules, was_disabled):
            module.enable_adapters(not disabled)


def save_adapters(transformer: nn.Module, folder: str, **save_options: Any) -> None:
    """Write the transformer's active adapter as transformers' integration and peft write it: `adapter_config.json`
    and `adapter_model.safetensors` (keys under `base_model.model.`), no base weights, no `config.json`.
    `save_options` (sentence-transformers passes `safe_serialization`) are ignored: adapters are always safetensors."""
    from peft.functional import get_peft_model_state_dict

    name = active_adapter(transformer)
    os.makedirs(folder, exist_ok=True)
    transformer.peft_config[name].save_pretrained(folder)
    state = get_peft_model_state_dict(transformer, adapter_name=name)
    save_file({PEFT_PREFIX + key: tensor.contiguous() for key, tensor in state.items()},
              os.path.join(folder, ADAPTER_WEIGHTS), metadata={"format": "pt"})


@contextmanager
def saving_adapters_with_peft(model: SentenceTransformer) -> Iterator[None]:
    """Inside the block, saving `model` (`model.save`, the trainer's `save_model` and checkpoints) writes its
    transformer's adapters with `save_adapters` where sentence-transformers calls the transformer's `save_pretrained`
    (transformers' version-gated integration). A model without adapters saves as it always does."""
    transformer = model.transformers_model if has_lora(model) else None
    if transformer is None:
        yield
        return
    transformer.save_pretrained = MethodType(save_adapters, transformer)  # a deep copy made inside binds to the copy
    try:
        yield
    finally:
        del transformer.save_pretrained  # the instance attribute goes; the class's method is seen again


def merged_copy(model: SentenceTransformer) -> SentenceTransformer:
    """A copy of `model` with its LoRA adapters merged into the base weights and no trace of peft left: saved, it is a
    standalone model (`model.safetensors`, no `adapter_config.json`) that loads without peft. `model` is unchanged."""
    import copy

    from peft.tuners.tuners_utils import BaseTunerLayer

    merged = copy.deepcopy(model)
    transformer = merged.transformers_model
    for name, module in list(transformer.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge(safe_merge=True)  # raises on non-finite merged weights
            parent_name, _, child = name.rpartition(".")
            setattr(transformer.get_submodule(parent_name), child, module.get_base_layer())
    transformer._hf_peft_config_loaded = False
    transformer.__dict__.pop("peft_config", None)
    return merged
