"""Every method of `TRAINERS` is a complete registry entry: what the CLI, `tune`, config files and the model card read
from it, a loss whose keyword arguments are its settings, and a run that trains every parameter."""

import dataclasses
import inspect

import pytest

from hf_contrastive import TRAINERS
from hf_contrastive.config_file import ConfigError, flag_actions, help_text, method_dataclasses, method_parser, \
    parse_config
from hf_contrastive.settings import choice_fields
from hf_contrastive.tuning import check_search_space, default_search_space
from tests.helpers.runs import METHOD_RUNS, make_trainer
from tests.helpers.training import assert_all_changed, trainable

METHODS = pytest.mark.parametrize("trainer_class", TRAINERS.values(), ids=lambda t: t.method)


@METHODS
def test_the_entry_names_and_describes_its_method(trainer_class):
    assert TRAINERS[trainer_class.method] is trainer_class
    assert trainer_class.method_name and trainer_class.help and "\n" not in trainer_class.help
    assert issubclass(trainer_class.training_args_class, trainer_class.loss_class.settings_class)
    assert f"  {trainer_class.method} " in help_text() and trainer_class.help in help_text()


@METHODS
def test_the_default_search_space_is_valid_for_the_config(trainer_class):
    space = default_search_space(trainer_class)
    assert {"learning_rate", "temperature"} <= set(space)
    assert check_search_space(space, trainer_class) == space


@METHODS
def test_the_loss_takes_exactly_its_settings(trainer_class):
    """The loss's keyword arguments are its settings' fields, with their defaults (the config's fields reach it by
    name); the trainer adds only its `loss_arguments`."""
    loss_class = trainer_class.loss_class
    parameters = dict(list(inspect.signature(loss_class.__init__).parameters.items())[2:])  # after self, model
    settings = {f.name: f.default for f in dataclasses.fields(loss_class.settings_class)}
    assert set(settings) <= set(parameters), sorted(set(settings) - set(parameters))
    assert {name: parameters[name].default for name in settings} == settings


@METHODS
def test_the_config_file_parser_has_the_data_arguments(trainer_class):
    dataclass_types = method_dataclasses(trainer_class.method)[1]
    assert dataclass_types[-1] is trainer_class.training_args_class
    assert (trainer_class.data_arguments_class in dataclass_types) == (trainer_class.data_arguments_class is not None)


@METHODS
def test_every_choice_is_a_literal_checked_once_and_listed_by_the_parser(trainer_class, tmp_path):
    """Each `Literal` field of the config: the parser's flag lists exactly its choices (so `--help` shows them), the
    config refuses another value naming field and value, and so do a config file and `tune`'s search space."""
    config_class = trainer_class.training_args_class
    choices = choice_fields(config_class)
    assert {"precision", "gather_gradients"} <= set(choices)
    actions = flag_actions(method_parser(trainer_class.method))
    for name, allowed in choices.items():
        assert tuple(actions[name].choices) == tuple(c for c in allowed if c is not None), name
        with pytest.raises(ValueError, match=f"`{name}` must be one of .*, got 'bogus'"):
            config_class(output_dir=str(tmp_path), **{name: "bogus"})
        with pytest.raises(ConfigError, match=f"--{name}"):
            parse_config(None, ["--method", trainer_class.method, "--model", "m", f"--{name}", "bogus"])
        if name not in trainer_class.data_fields:  # those cannot be searched at all
            with pytest.raises(ValueError, match=f"`{name}` takes one of"):
                check_search_space({name: {"type": "categorical", "choices": [allowed[0], "bogus"]}}, trainer_class)
    with pytest.raises(ValueError, match="`gather_gradients` takes one of"):
        check_search_space({"gather_gradients": {"type": "float", "low": 0.1, "high": 1.0}}, trainer_class)


@METHODS
def test_a_short_run_trains_every_parameter(trainer_class, tiny_encoder_dir, tmp_path):
    assert trainer_class.method in METHOD_RUNS, "add the method's run to tests/helpers/runs.py"
    trainer = make_trainer(METHOD_RUNS[trainer_class.method], tiny_encoder_dir, str(tmp_path), max_steps=2,
                           save_strategy="no")
    assert type(trainer) is trainer_class
    before = trainable(trainer)
    trainer.train()
    assert_all_changed(before, trainer)
