"""Settings declared once: name, default, help and check of each field, in a dataclass that the code using them
and the training config share.

Each loss has a settings dataclass (`SimCSESettings` beside `SimCSELoss`, ...) built from the mixins here for what
several objectives share (gathering across processes, gradient caching, the MLM term); DeCLUTR's span sampling has
`SpanSettings` beside `sample_spans`. The loss takes its settings' fields as keyword arguments (their defaults read
from the dataclass) and validates them by building it; the method's training config inherits the same dataclass, so
YAML, the command line, `--help` and the trainer see the same fields with the same defaults, validated by the same
checks; the trainer builds its default loss from `settings_values(config, settings_class)` without restating a field.

A field with a fixed set of values is annotated `Literal[...]` (e.g. `gather_gradients: GatherGradients`): the root
`Settings` checks it, `HfArgumentParser` lists its choices in `--help` and checks them on the command line and in
YAML. A mixin checks its other fields in `check_fields`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal


def settings_values(source: Any, settings_class: type) -> dict[str, Any]:
    """`{field: value}` of `settings_class`'s fields, read from `source` (a config, a loss or a settings object)."""
    return {f.name: getattr(source, f.name) for f in dataclasses.fields(settings_class)}


def adopt(loss: Any, settings: Any) -> None:
    """Give `loss` each field of `settings` (validated when it was built) as an attribute, as sentence-transformers'
    losses keep their hyperparameters."""
    for name, value in settings_values(settings, type(settings)).items():
        setattr(loss, name, value)


def describe(loss: Any, settings_class: type) -> dict[str, Any]:
    """A loss's settings for `get_config_dict` (and so the model card), without the MLM term's details when it is
    off."""
    values = settings_values(loss, settings_class)
    if not values.get("do_mlm", True):
        values = {k: v for k, v in values.items() if not k.startswith("mlm_")}
    return values


def literal_choices(hint: Any) -> tuple | None:
    """The values a `Literal[...]` annotation allows (with `None` for `Literal[...] | None`); `None` for any other.

    >>> literal_choices(Literal["a", "b"] | None), literal_choices(str | None)
    (('a', 'b', None), None)
    """
    if typing.get_origin(hint) is Literal:
        return typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        literals = [a for a in typing.get_args(hint) if typing.get_origin(a) is Literal]
        if len(literals) == 1 and set(typing.get_args(hint)) == {literals[0], type(None)}:
            return typing.get_args(literals[0]) + (None,)
    return None


def choice_fields(cls: type) -> dict[str, tuple]:
    """`{field: its choices}` of the dataclass fields of `cls` annotated `Literal[...]` (the choices a config,
    YAML and the command line accept; `HfArgumentParser` shows them in `--help`)."""
    hints = typing.get_type_hints(cls)
    choices = {f.name: literal_choices(hints.get(f.name)) for f in dataclasses.fields(cls)}
    return {name: values for name, values in choices.items() if values is not None}


class Settings:
    """Root of the settings mixins. Building settings (or a config that inherits them) checks every `Literal[...]`
    field against its choices (`choice_fields`), then runs each class's own `check_fields` (the checks of the other
    fields, bases first; a check may rely on the choices being valid), then hands on to whatever follows in the MRO
    (`TrainingArguments.__post_init__` inside a config)."""

    def __post_init__(self) -> None:
        for name, choices in choice_fields(type(self)).items():
            check_choice(getattr(self, name), choices, name)
        for klass in reversed(type(self).__mro__):
            if "check_fields" in vars(klass):
                vars(klass)["check_fields"](self)
        following = getattr(super(), "__post_init__", None)
        if following is not None:
            following()


def check_temperature(value: float, name: str = "temperature") -> None:
    if not value > 0:
        raise ValueError(f"`{name}` must be > 0, got {value}.")


def check_choice(value: Any, choices: Any, name: str) -> None:
    """`ValueError` naming the field `name` and the value when `value` is not one of `choices` (a tuple, or a
    `Literal[...]` annotation: the choices of a field, checked where a pure function takes the same argument)."""
    choices = literal_choices(choices) or choices
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}, got {value!r}.")


GatherGradients = Literal["full", "local"]


@dataclass
class GatherSettings(Settings):
    """
    gather_across_devices (`bool`, *optional*, defaults to `True`):
        Under DDP (torchrun / accelerate), this process's rows are contrasted with the candidates of *every* process:
        world_size x batch negatives. No effect in one process.
    gather_gradients (`str`, *optional*, defaults to `"full"`):
        How the gathered candidates carry gradients. `full`: gathered with their gradients, and each process's loss
        its share of the mean over every process's terms: exactly the loss and gradients of one process on the
        concatenated batch. `local`: as the original SimCSE and DeCLUTR code (`simcse/models.py` `cl_forward`,
        `declutr/common/model_utils.py` `all_gather_anchor_positive_pairs`): the other processes' rows are gathered
        without gradients, this process's own rows are its grad-carrying tensors, and every process computes the
        whole batch's loss; after DDP's average the gradient is 1/world_size of the full-batch one (DeCLUTR's
        `scale_fix: false`, the setting of its paper), which Adam largely normalises away but which weighs the term
        1/world_size against an MLM term and changes gradient clipping. For exact reproductions of those runs.
    """

    gather_across_devices: bool = field(
        default=True, metadata={"help": "Under DDP, negatives from every process."}
    )
    gather_gradients: GatherGradients = field(
        default="full", metadata={"help": "full: exact full-batch gradients; local: the originals' 1/world_size."}
    )


@dataclass
class GradCacheSettings(Settings):
    """
    mini_batch_size (`int`, *optional*):
        Gradient caching (GradCache, Gao et al. 2021): embed the batch this many texts at a time without a graph,
        back-propagate the loss to the embeddings, then re-embed each mini-batch (dropout replayed) to push the
        cached gradients through. The same gradients as without caching, with memory that stays flat as the batch
        grows, for about one extra forward pass. `None` embeds the whole batch at once.
    """

    mini_batch_size: int | None = field(
        default=None, metadata={"help": "Gradient caching: embed the batch this many texts at a time."}
    )

    def check_fields(self) -> None:
        if self.mini_batch_size is not None and self.mini_batch_size < 1:
            raise ValueError(f"`mini_batch_size` must be >= 1, got {self.mini_batch_size}.")


@dataclass
class MLMSettings(Settings):
    """
    do_mlm (`bool`, *optional*, defaults to `False`):
        Add the masked-language-model auxiliary term (BERT's 80/10/10 masking; logged as `mlm`). Its head belongs
        to the loss and starts from the checkpoint's pretrained MLM head when there is one.
    mlm_weight (`float`, *optional*, defaults to `0.1`):
        Weight λ of the MLM term.
    mlm_probability (`float`, *optional*, defaults to `0.15`):
        Share of tokens chosen for masking.
    """

    do_mlm: bool = field(default=False, metadata={"help": "Add the masked-language-model auxiliary term."})
    mlm_weight: float = field(default=0.1, metadata={"help": "Weight of the MLM term."})
    mlm_probability: float = field(default=0.15, metadata={"help": "Share of tokens masked for the MLM term."})

    def check_fields(self) -> None:
        if not self.mlm_weight >= 0:
            raise ValueError(f"`mlm_weight` must be >= 0, got {self.mlm_weight}.")
        if not 0 < self.mlm_probability <= 1:
            raise ValueError(f"`mlm_probability` must be in (0, 1], got {self.mlm_probability}.")
        if self.do_mlm and getattr(self, "mini_batch_size", None) is not None:
            raise ValueError("`mini_batch_size` (gradient caching) does not combine with `do_mlm`; use one of them.")
