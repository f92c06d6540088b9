"""Hyperparameter search: `model_init` on every trainer, `hyperparameter_search` trials that each train a fresh model
with their own values and loss, and `hf_contrastive.tuning`'s search spaces, table and best config."""

import pytest
import torch
import yaml
from datasets import ClassLabel, Dataset, Features, Value
from transformers import TrainerCallback

from hf_contrastive import (DeCLUTRConfig, DeCLUTRTrainer, SFTContrastiveConfig, SFTContrastiveTrainer, SimCSEConfig,
                            SimCSETrainer)
from hf_contrastive import tuning
from hf_contrastive.modeling.lora import has_lora
from tests.helpers.training import sts_dev

optuna = pytest.importorskip("optuna")

LR = {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}
TEMPERATURE = {"type": "float", "low": 0.02, "high": 0.2, "log": True}


class Recorder(TrainerCallback):
    """What each run of the trainer starts from: its config, model, loss and their initial tensors."""

    def __init__(self, trainer):
        self.trainer, self.runs = trainer, []
        trainer.add_callback(self)

    def on_train_begin(self, args, state, control, **kwargs):
        t = self.trainer
        self.runs.append({"args": t.args, "model": t.model, "loss": t.loss, "loss_model": t.loss.model,
                          "weights": {n: p.detach().clone() for n, p in t.model.state_dict().items()},
                          "loss_state": t.loss_state_dict()})


def labelled(sentences):
    features = Features({"text": Value("string"), "label": ClassLabel(names=["a", "b", "c"])})
    return Dataset.from_dict({"text": sentences, "label": [i % 3 for i in range(len(sentences))]}, features=features)


def simcse(model_init, sentences, tmp_path, quiet_args, **kwargs):
    args = SimCSEConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, max_steps=1, pooler="cls",
                        **quiet_args)  # cls: SimCSE's train-only MLP is a head of the loss
    return SimCSETrainer(model_init=model_init, args=args, train_dataset=Dataset.from_dict({"text": sentences}),
                         eval_dataset=sts_dev(sentences), **kwargs)


def declutr(model_init, sentences, tmp_path, quiet_args, **kwargs):
    args = DeCLUTRConfig(output_dir=str(tmp_path / "out"), min_span_len=4, max_span_len=24, warmup_steps=0,
                         per_device_train_batch_size=2, max_steps=1, **quiet_args)  # do_mlm: the loss's MLM head
    docs = Dataset.from_dict({"text": [" . ".join(sentences[i:] + sentences[:i]) for i in range(4)]})
    return DeCLUTRTrainer(model_init=model_init, args=args, train_dataset=docs, eval_dataset=sts_dev(sentences),
                          **kwargs)


def sft(model_init, sentences, tmp_path, quiet_args, **kwargs):
    args = SFTContrastiveConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, max_steps=1,
                                **quiet_args)
    return SFTContrastiveTrainer(model_init=model_init, args=args, train_dataset=labelled(sentences),
                                 eval_dataset=labelled(sentences[:12]), **kwargs)


CASES = {  # trainer, search space (beside learning_rate), objective
    "simcse": (simcse, {"temperature": TEMPERATURE}, "eval_sts-dev_spearman_cosine"),
    "declutr": (declutr, {"temperature": TEMPERATURE, "mlm_weight": {"type": "float", "low": 0.1, "high": 2.0}},
                "eval_sts-dev_spearman_cosine"),
    "sft_contrastive": (sft, {"temperature": TEMPERATURE, "contrastive_weight": {"type": "float", "low": 0.5,
                                                                                 "high": 2.0}}, "eval_accuracy"),
}


def equal_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("method", list(CASES))
def test_each_trial_trains_a_fresh_model_with_its_values_and_its_own_loss(method, tiny_encoder_dir, sentences,
                                                                           tmp_path, quiet_args):
    build, space, objective = CASES[method]
    trainer = build(lambda: tiny_encoder_dir, sentences, tmp_path, quiet_args)
    given, first_loss = trainer.args, trainer.loss
    recorder = Recorder(trainer)
    result = tuning.search(trainer, n_trials=2, space={"learning_rate": LR, **space})

    assert [t.state.name for t in result.trials] == ["COMPLETE", "COMPLETE"] and len(recorder.runs) == 2
    best = result.trials[result.best_trial]
    assert result.best == best.params and result.best_value == best.value == max(t.value for t in result.trials)
    assert result.objective == objective and result.direction == "maximize"
    for trial, run in zip(result.trials, recorder.runs):
        for name, value in trial.params.items():  # the trial's values reached the config and the loss
            assert getattr(run["args"], name) == value
            if name != "learning_rate":
                assert getattr(run["loss"], name) == value
        assert run["loss_model"] is run["model"] and run["loss"] is not first_loss
    first, second = recorder.runs
    assert first["model"] is not second["model"] and first["loss"] is not second["loss"]
    assert equal_tensors(first["weights"], second["weights"]), "every trial starts from the same weights"
    assert first["loss_state"] and equal_tensors(first["loss_state"], second["loss_state"]), "and the same heads"
    if method == "sft_contrastive":  # a new head and a new frozen reference of the fresh model
        assert first["loss"].head is not second["loss"].head
        for run in recorder.runs:
            assert equal_tensors({n: p for n, p in run["loss"].reference.copy.state_dict().items()}, run["weights"])
    assert trainer.args is given and given.learning_rate != result.best["learning_rate"]  # the config as given


def test_lora_search_gives_every_trial_a_fresh_lora_model(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    peft = pytest.importorskip("peft")
    config = peft.LoraConfig(task_type=peft.TaskType.FEATURE_EXTRACTION, r=2, lora_alpha=4,
                             target_modules=["query", "value"])
    trainer = simcse(lambda trial: tiny_encoder_dir, sentences, tmp_path, quiet_args, peft_config=config)
    recorder = Recorder(trainer)
    tuning.search(trainer, n_trials=2, space={"learning_rate": LR})
    first, second = recorder.runs
    assert first["model"] is not second["model"]
    for run in recorder.runs:
        assert has_lora(run["model"])
        trainable = {n for n, p in run["model"].named_parameters() if p.requires_grad}
        assert trainable and all("lora_" in n for n in trainable)  # one set of adapters, base frozen
        trained = dict(run["model"].named_parameters())
        assert any(not torch.equal(trained[n], run["weights"][n]) for n in trainable), "the adapters trained"
    assert equal_tensors(first["weights"], second["weights"])  # the same fresh adapters (lora_B = 0) each time
    assert config.base_model_name_or_path is None  # each model got its own copy of the given config


def test_use_peft_trials_build_lora_from_their_own_fields(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    pytest.importorskip("peft")
    args = SimCSEConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, max_steps=1, use_peft=True,
                        lora_target_modules=["query", "value"], **quiet_args)
    trainer = SimCSETrainer(model_init=lambda: tiny_encoder_dir, args=args, eval_dataset=sts_dev(sentences),
                            train_dataset=Dataset.from_dict({"text": sentences}))
    recorder = Recorder(trainer)
    result = tuning.search(trainer, n_trials=2, space={"lora_r": {"type": "categorical", "choices": [2, 3]}})
    for trial, run in zip(result.trials, recorder.runs):
        ranks = {p.shape[0] for n, p in run["model"].named_parameters() if "lora_A" in n}
        assert ranks == {trial.params["lora_r"]}


def test_a_trial_value_the_config_refuses_stops_the_search(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    trainer = simcse(lambda: tiny_encoder_dir, sentences, tmp_path, quiet_args)
    space = {"temperature": {"type": "categorical", "choices": [-1.0]}}
    with pytest.raises(ValueError, match=r"`temperature` must be > 0, got -1.0"):
        tuning.search(trainer, n_trials=1, space=space)
    with pytest.raises(ValueError, match=r"`mode='supervised'`.*prepared.*once for all trials"):
        trainer.hyperparameter_search(hp_space=lambda trial: {"mode": "supervised"}, n_trials=1)
    with pytest.raises(ValueError, match=r"`no_such_field=1`.*not a field of SimCSEConfig"):
        trainer.hyperparameter_search(hp_space=lambda trial: {"no_such_field": 1}, n_trials=1)


def test_nothing_to_maximise_names_the_fields(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = SimCSEConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, max_steps=1, **quiet_args)
    trainer = SimCSETrainer(model_init=lambda: tiny_encoder_dir, args=args,
                            train_dataset=Dataset.from_dict({"text": sentences}))
    with pytest.raises(ValueError, match=r"Nothing to maximise: `metric_for_best_model` is unset.*`eval_dataset`"):
        trainer.hyperparameter_search(n_trials=1)
    args = SFTContrastiveConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, max_steps=1, **quiet_args)
    trainer = SFTContrastiveTrainer(model_init=lambda: tiny_encoder_dir, args=args, train_dataset=labelled(sentences))
    with pytest.raises(ValueError, match=r"a labelled `eval_dataset` gives `eval_accuracy`"):
        trainer.hyperparameter_search(n_trials=1)


def test_model_init_errors(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = SimCSEConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, **quiet_args)
    data = Dataset.from_dict({"text": sentences})
    with pytest.raises(ValueError, match="`model` or `model_init`, not both"):
        SimCSETrainer(model=tiny_encoder_dir, model_init=lambda: tiny_encoder_dir, args=args, train_dataset=data)
    with pytest.raises(ValueError, match="must take no argument or one"):
        SimCSETrainer(model_init=lambda a, b: tiny_encoder_dir, args=args, train_dataset=data)
    with pytest.raises(ValueError, match="`model_init` returned None"):
        SimCSETrainer(model_init=lambda: None, args=args, train_dataset=data)
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=data, eval_dataset=sts_dev(sentences))
    with pytest.raises(ValueError, match="build the trainer with `model_init`"):
        trainer.hyperparameter_search(n_trials=1)


def test_default_search_spaces_are_valid():
    for trainer_class in (SimCSETrainer, DeCLUTRTrainer, SFTContrastiveTrainer):
        space = tuning.default_search_space(trainer_class)
        checked = tuning.check_search_space(space, trainer_class)
        assert checked.keys() == space.keys() and all(space[n].items() <= checked[n].items() for n in space)
        assert {"learning_rate", "temperature"} <= set(space)


def test_search_space_yaml_is_read_with_numbers_as_strings(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("learning_rate: {type: float, low: 1e-5, high: 1.0e-3, log: true}\n"
                    "num_train_epochs: {type: int, low: 1, high: 3}\n"
                    "per_device_train_batch_size: {type: categorical, choices: [16, 32]}\n")
    assert tuning.read_search_space(str(path), SimCSETrainer) == {
        "learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True},
        "num_train_epochs": {"type": "int", "low": 1, "high": 3, "log": False},
        "per_device_train_batch_size": {"type": "categorical", "choices": [16, 32]}}


@pytest.mark.parametrize("text,message", [
    ("- learning_rate", r"maps config fields to their ranges, got list"),
    ("temprature: {type: float, low: 0.01, high: 0.1}", r"`temprature` is not a field of SimCSEConfig"),
    ("mode: {type: categorical, choices: [supervised]}", r"`mode` shapes the training data"),
    ("temperature: {type: uniform, low: 0.01, high: 0.1}", r"`temperature` must be a mapping with `type`.*uniform"),
    ("temperature: 0.05", r"`temperature` must be a mapping with `type`.*0.05"),
    ("temperature: {type: float, low: 0.01, high: 0.1, choices: [1]}", r"`temperature`: \['choices'\] do not apply"),
    ("temperature: {type: float, low: abc, high: 0.1}", r"`temperature`: `low` must be a number, got 'abc'"),
    ("temperature: {type: float, high: 0.1}", r"`temperature`: `low` must be a number, got None"),
    ("num_train_epochs: {type: int, low: 1, high: 2.5}", r"`num_train_epochs`: `high` must be a whole number, got 2.5"),
    ("temperature: {type: float, low: 0.1, high: 0.1}", r"`temperature`: `low` must be below `high`, got low=0.1"),
    ("temperature: {type: float, low: 0, high: 0.1, log: true}", r"`temperature`: `log: true` needs `low` > 0, got 0"),
    ("temperature: {type: float, low: 0.01, high: 0.1, log: yes please}", r"`log` must be true or false"),
    ("pooler: {type: categorical, choices: []}", r"`pooler`: `choices` must be a non-empty list, got \[\]"),
    ("pooler: {type: categorical, choices: [{a: 1}]}", r"`pooler`: `choices` must be numbers.*\{'a': 1\}"),
])
def test_search_space_errors_name_the_field_and_value(tmp_path, text, message):
    path = tmp_path / "space.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ValueError, match=message) as error:
        tuning.read_search_space(str(path), SimCSETrainer)
    assert str(path) in str(error.value)


def test_no_default_space_for_the_base_trainer():
    from hf_contrastive import ContrastiveTrainer

    with pytest.raises(ValueError, match="ContrastiveTrainer has no default search space"):
        tuning.default_search_space(ContrastiveTrainer)


def test_best_config_round_trip(tmp_path):
    config_path, output = tmp_path / "train.yaml", tmp_path / "best.yaml"
    config_path.write_text("# SimCSE\nmethod: simcse\nmodel: bert-base-uncased\nsts_eval: stsb-dev\n"
                           "learning_rate: 3.0e-5  # the paper's\ntemperature: 0.05\noutput_dir: out\n")
    best = {"learning_rate": 0.0026938830192854116, "temperature": 0.07076907181813105,
            "per_device_train_batch_size": 64}
    written = tuning.write_best_config(str(config_path), best, str(output))
    parsed = yaml.safe_load(output.read_text())
    assert parsed == written == {"method": "simcse", "model": "bert-base-uncased", "sts_eval": "stsb-dev",
                                 "learning_rate": 0.0026938830192854116, "temperature": 0.07076907181813105,
                                 "output_dir": "out", "per_device_train_batch_size": 64}
    assert list(parsed) == list(written)  # the input's order, new fields after it
    assert SimCSEConfig(**{k: v for k, v in parsed.items() if k not in ("method", "model", "sts_eval")},
                        report_to="none").temperature == best["temperature"]


def test_trials_table():
    distributions = {"learning_rate": optuna.distributions.FloatDistribution(1e-6, 1e-3, log=True)}
    trials = [optuna.trial.create_trial(params={"learning_rate": lr}, distributions=distributions, value=value)
              for lr, value in ((1e-5, 0.5), (2.5e-4, 0.75))]
    result = tuning.SearchResult(best={"learning_rate": 2.5e-4}, best_trial=1, best_value=0.75, objective="eval_x",
                                 direction="maximize", trials=trials)
    for trial, number in zip(trials, (0, 1)):
        trial.number = number
    assert tuning.trials_table(result).splitlines() == [
        "trial  state     eval_x  learning_rate",
        "0      complete  0.5     1e-05",
        "1*     complete  0.75    0.00025",
    ]


def test_a_loss_function_is_called_for_every_fresh_model(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    from hf_contrastive import SimCSELoss

    args = SimCSEConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, max_steps=1, **quiet_args)
    trainer = SimCSETrainer(model_init=lambda: tiny_encoder_dir, args=args, eval_dataset=sts_dev(sentences),
                            train_dataset=Dataset.from_dict({"text": sentences}),
                            loss=lambda model: SimCSELoss(model, temperature=0.1))
    recorder = Recorder(trainer)
    trainer.train()
    trainer.train()
    first, second = recorder.runs
    assert first["model"] is not second["model"] and first["loss"] is not second["loss"]
    assert all(run["loss_model"] is run["model"] and run["loss"].temperature == 0.1 for run in recorder.runs)
    with pytest.raises(ValueError, match=r"`temperature=0.1` configures the default loss, but a `loss` was given"):
        trainer.hyperparameter_search(hp_space=lambda trial: {"temperature": 0.1}, n_trials=1)
