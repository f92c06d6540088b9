"""Each trainer's and config's docstrings are its spec sheet: every constructor argument and every field this
library declares (beyond sentence-transformers' training arguments) is described there."""

import ast
import dataclasses
import inspect
import re

import pytest
from sentence_transformers import SentenceTransformerTrainingArguments

from hf_contrastive.trainers import TRAINERS


def own_docs(cls: type) -> str:
    """The docstrings of `cls` and of its hf_contrastive bases (where inherited arguments and fields are described)."""
    return "\n".join(inspect.getdoc(k) or "" for k in cls.__mro__ if k.__module__.startswith("hf_contrastive"))


def described(name: str, docs: str) -> bool:
    return f"`{name}`" in docs or f"{name} (" in docs or f"{name}:" in docs or f"**{name}" in docs


@pytest.mark.parametrize("trainer_class", TRAINERS.values(), ids=lambda t: t.__name__)
def test_every_trainer_argument_is_described(trainer_class):
    parameters = [p for p in inspect.signature(trainer_class.__init__).parameters if p != "self"]
    docs = own_docs(trainer_class)
    assert [p for p in parameters if not described(p, docs)] == []


@pytest.mark.parametrize("trainer_class", TRAINERS.values(), ids=lambda t: t.__name__)
def test_every_config_field_of_the_library_is_described(trainer_class):
    config = trainer_class.training_args_class
    inherited = {f.name for f in dataclasses.fields(SentenceTransformerTrainingArguments)}
    fields = [f.name for f in dataclasses.fields(config) if f.name not in inherited]
    docs = own_docs(config)
    assert fields and [name for name in fields if not described(name, docs)] == []


DOCUMENTED_DEFAULT = re.compile(r"(\w+) \(`[^`]+`, \*optional\*, defaults to `([^`]+)`\)")


@pytest.mark.parametrize("trainer_class", TRAINERS.values(), ids=lambda t: t.__name__)
def test_every_documented_default_is_the_field_default(trainer_class):
    """`name (`type`, *optional*, defaults to `value`)` in the spec sheet of the config and of the loss's settings
    is the field's default (the most derived class's docstring speaks for a field it overrides)."""
    for settings_class in (trainer_class.training_args_class, trainer_class.loss_class.settings_class):
        defaults = {f.name: f.default for f in dataclasses.fields(settings_class)}
        documented = {}
        for name, value in DOCUMENTED_DEFAULT.findall(own_docs(settings_class)):
            documented.setdefault(name, ast.literal_eval(value))
        assert documented and set(documented) <= set(defaults), sorted(set(documented) - set(defaults))
        assert {name: defaults[name] for name in documented} == documented, settings_class.__name__
