import os

import pytest
import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from transformers import TrainerCallback

from hf_contrastive import DeCLUTRConfig, DeCLUTRTrainer
from hf_contrastive.distributed import loss_parameters
from hf_contrastive.optimization import LegacyAdamW
from hf_contrastive.trainers.declutr_config import ORIGINAL_DECLUTR
from tests.helpers.allennlp import allennlp_learning_rates
from tests.helpers.training import assert_all_changed, sts_dev, trainable


@pytest.fixture()
def documents(sentences):
    return Dataset.from_dict({"text": [" . ".join(sentences[i:] + sentences[:i]) for i in range(8)] + ["a short one"]})


def make_args(tmp_path, quiet_args, **kwargs):
    settings = dict(output_dir=str(tmp_path / "out"), min_span_len=4, max_span_len=24, per_device_train_batch_size=2,
                    learning_rate=1e-3, warmup_steps=0) | quiet_args | kwargs
    return DeCLUTRConfig(**settings)


def test_trains_every_parameter_logs_both_terms_and_reloads(tiny_encoder_dir, documents, tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=3)
    trainer = DeCLUTRTrainer(model=tiny_encoder_dir, args=args, train_dataset=documents)
    assert [type(m).__name__ for m in trainer.model] == ["Transformer", "Pooling"]
    assert trainer.model[1].pooling_mode == "mean"
    assert len(trainer.train_dataset) == 8, "the short document is dropped"
    before = trainable(trainer)
    assert any(n.startswith("loss.mlm.head") for n in before)
    trainer.train()
    assert_all_changed(before, trainer)
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert logged and all({"contrastive", "mlm"} <= set(h) for h in logged)
    assert {"hf-contrastive", "declutr"} <= set(trainer.model.model_card_data.tags)
    trainer.save_model(args.output_dir)
    texts = list(documents["text"][:3])
    trainer.model.eval()
    assert torch.equal(SentenceTransformer(args.output_dir).encode(texts, convert_to_tensor=True),
                       trainer.model.encode(texts, convert_to_tensor=True))


class LearningRates(TrainerCallback):
    """The learning rate of every parameter group at each optimizer step."""

    def __init__(self):
        self.used = []

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        self.used.append([group["lr"] for group in optimizer.param_groups])


@pytest.mark.parametrize("kwargs", [{}, {"lr_scheduler_kwargs": {"cut_frac": 0.25, "ratio": 8}}])
def test_the_originals_optimizer_and_schedule(tiny_encoder_dir, documents, tmp_path, quiet_args, kwargs):
    """`DeCLUTRConfig(**ORIGINAL_DECLUTR)` (fp16 off on CPU): transformers 3.0's AdamW without bias correction over the
    Trainer's parameter groups (the MLM head included), and allennlp's slanted triangular learning rate at each
    update, over 2 epochs of 4 updates."""
    args = make_args(tmp_path, quiet_args, num_train_epochs=2, **{**ORIGINAL_DECLUTR, "fp16": False, **kwargs})
    trainer = DeCLUTRTrainer(model=tiny_encoder_dir, args=args, train_dataset=documents)
    rates = LearningRates()
    trainer.add_callback(rates)
    before = trainable(trainer)
    trainer.train()
    assert_all_changed(before, trainer)
    optimizer = getattr(trainer.optimizer, "optimizer", trainer.optimizer)  # inside accelerate's wrapper
    assert type(optimizer) is LegacyAdamW
    assert {(g["correct_bias"], g["eps"], g["weight_decay"]) for g in optimizer.param_groups} == {
        (False, 1e-6, 0.1), (False, 1e-6, 0.0)}
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert {id(p) for p in loss_parameters(trainer.loss, trainer.model)} <= optimized
    schedule = {"cut_frac": 0.1, "ratio": 32, **kwargs.get("lr_scheduler_kwargs", {})}
    expected = allennlp_learning_rates(2, len(rates.used) // 2, **schedule)
    assert len(rates.used) == 8
    for group in range(len(optimizer.param_groups)):
        assert [used[group] for used in rates.used] == pytest.approx([1e-3 * rate for rate in expected], rel=1e-9)


def test_the_default_optimization_is_the_trainers(tiny_encoder_dir, documents, tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=1, warmup_steps=DeCLUTRConfig.warmup_steps)
    trainer = DeCLUTRTrainer(model=tiny_encoder_dir, args=args, train_dataset=documents)
    trainer.create_optimizer_and_scheduler(num_training_steps=10)
    assert type(trainer.optimizer) is torch.optim.AdamW
    assert trainer.lr_scheduler.get_last_lr()[0] == 0.0, "linear warm-up from 0"


def test_spans_are_resampled_every_epoch(tiny_encoder_dir, documents, tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, num_train_epochs=2, do_mlm=False)
    trainer = DeCLUTRTrainer(model=tiny_encoder_dir, args=args, train_dataset=documents)
    seen = {}
    original = trainer.data_collator.span_rows

    def record(document):
        rows = original(document)
        seen.setdefault(document["doc_index"], []).append((trainer.data_collator.epoch, rows))
        return rows

    trainer.data_collator.span_rows = record
    trainer.train()
    for draws in seen.values():
        assert [epoch for epoch, _ in draws] == [0, 1]
        assert draws[0][1] != draws[1][1]


def test_resume_reproduces_spans_and_weights(tiny_encoder_dir, documents, tmp_path, quiet_args):
    common = dict(max_steps=6, num_train_epochs=2, save_strategy="steps", save_steps=3)
    full = DeCLUTRTrainer(model=tiny_encoder_dir, args=make_args(tmp_path / "a", quiet_args, **common),
                          train_dataset=documents)
    full.train()
    args = make_args(tmp_path / "b", quiet_args, **common)
    DeCLUTRTrainer(model=tiny_encoder_dir, args=args, train_dataset=documents).train()
    resumed = DeCLUTRTrainer(model=tiny_encoder_dir, args=args, train_dataset=documents)
    resumed.train(resume_from_checkpoint=os.path.join(args.output_dir, "checkpoint-3"))
    expected_state, resumed_state = full.model.state_dict(), resumed.model.state_dict()
    assert expected_state.keys() == resumed_state.keys()
    for name, expected in expected_state.items():
        assert torch.allclose(expected, resumed_state[name], atol=1e-6), name
    assert torch.allclose(full.loss.mlm.head.dense.weight, resumed.loss.mlm.head.dense.weight, atol=1e-6)


def test_sts_dev_evaluation(tiny_encoder_dir, documents, sentences, tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=2, eval_strategy="steps", eval_steps=2)
    trainer = DeCLUTRTrainer(model=tiny_encoder_dir, args=args, train_dataset=documents,
                             eval_dataset=sts_dev(sentences))
    trainer.train()
    assert any("eval_sts-dev_spearman_cosine" in h for h in trainer.state.log_history)


@pytest.mark.parametrize("kwargs,message", [
    ({"max_span_len": 2}, r"`max_span_len` must be >= `min_span_len` \(4\), got 2"),
    ({"num_anchors": 0}, "`num_anchors` must be >= 1, got 0"),
    ({"sampling_strategy": "nearby"}, "`sampling_strategy` must be one of"),
    ({"temperature": -0.1}, "`temperature` must be > 0, got -0.1"),
    ({"per_device_train_batch_size": 1, "num_anchors": 1}, "at least 2 anchors"),
    ({"dataloader_num_workers": 2, "dataloader_persistent_workers": True}, "persistent_workers=True` keeps"),
    ({"lr_schedule": "slanted"}, "`lr_schedule` must be one of .* got 'slanted'"),
    ({"lr_schedule": "slanted_triangular", "lr_scheduler_kwargs": {"cut_frac": 0.1, "warmup": 3}},
     "take `cut_frac` and `ratio`, got warmup=3"),
    ({"lr_schedule": "slanted_triangular", "lr_scheduler_kwargs": {"ratio": 0}}, r"`lr_scheduler_kwargs\['ratio'\]`"),
    ({"adam_correct_bias": False, "optim": "sgd"}, "`optim` must be 'adamw_torch' or 'adamw_torch_fused', got 'sgd'"),
    ({"gather_gradients": "partial"}, "`gather_gradients` must be one of .* got 'partial'"),
])
def test_config_errors(tmp_path, quiet_args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_args(tmp_path, quiet_args, **kwargs)
