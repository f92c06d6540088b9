"""LoRA through PEFT: the config from the trainer's fields, and adapters added to a SentenceTransformer."""

from __future__ import annotations

from typing import Any

from sentence_transformers import SentenceTransformer


def _import_peft():
    try:
        import peft
    except ImportError:
        raise ImportError("LoRA needs peft: pip install 'hf_contrastive[peft]'.") from None
    return peft


def lora_config_from_args(args: Any):
    """A `peft.LoraConfig` (feature extraction) from the config's `lora_*` fields (TRL's `get_peft_config`)."""
    peft = _import_peft()
    LoraConfig, TaskType = peft.LoraConfig, peft.TaskType

    return LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=args.lora_r, lora_alpha=args.lora_alpha,
                      lora_dropout=args.lora_dropout, target_modules=args.lora_target_modules)


def add_lora(model: SentenceTransformer, peft_config: Any) -> SentenceTransformer:
    """Add `peft_config`'s adapters to the model's transformer: its own weights freeze and only the adapters train
    (modules after it, such as SimCSE's MLP, stay trainable). The model is changed in place and returned."""
    _import_peft()
    if model.transformers_model is None:
        raise ValueError("LoRA needs a transformers model as the SentenceTransformer's first module.")
    model.add_adapter(peft_config)
    return model


def has_lora(model: SentenceTransformer) -> bool:
    """Whether the model's transformer carries peft adapters."""
    return bool(getattr(model.transformers_model, "_hf_peft_config_loaded", False))


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
