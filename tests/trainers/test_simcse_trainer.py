import os

import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

from hf_contrastive import SimCSEConfig, SimCSELoss, SimCSETrainer
from hf_contrastive.modeling import POOLERS, build_sentence_transformer
from tests.helpers.training import assert_all_changed, sts_dev, trainable

def triplets(sentences):
    return Dataset.from_dict({"anchor": sentences[:16], "positive": sentences[16:32],
                              "negative": sentences[8:24]})


def make_args(tmp_path, quiet_args, **kwargs):
    return SimCSEConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, learning_rate=1e-3,
                        **(quiet_args | kwargs))


def test_unsupervised_cls_with_train_only_mlp(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=3, pooler="cls", mode="unsupervised")
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
    assert args.resolved_mlp_only_train and trainer.loss.mlp is not None
    assert [type(m).__name__ for m in trainer.model] == ["Transformer", "Pooling"], "MLP must not be in the model"
    before = trainable(trainer)
    assert any(n.startswith("loss.mlp") for n in before)
    trainer.train()
    assert_all_changed(before, trainer)
    assert trainer.state.log_history[-1]["train_loss"] > 0
    assert {"hf-contrastive", "simcse"} <= set(trainer.model.model_card_data.tags)


def test_supervised_triplets_with_hard_negative_weight(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=2, mode="supervised", hard_negative_weight=1.0)
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=triplets(sentences))
    assert trainer.loss.hard_negative_weight == 1.0 and trainer.loss.mlp is None
    assert [type(m).__name__ for m in trainer.model] == ["Transformer", "Pooling", "Dense"]  # cls keeps its MLP
    before = trainable(trainer)
    trainer.train()
    assert_all_changed(before, trainer)


def test_mlm_components_are_logged(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=2, do_mlm=True, pooler="avg")
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
    before = trainable(trainer)
    trainer.train()
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert logged and all({"contrastive", "mlm"} <= set(h) for h in logged)
    assert_all_changed(before, trainer)


@pytest.mark.parametrize("pooler,mlp_only_train", [(p, False) for p in POOLERS] + [("cls", True)])
def test_reloaded_model_gives_the_trained_embeddings(tiny_encoder_dir, sentences, tmp_path, quiet_args, pooler,
                                                     mlp_only_train):
    args = make_args(tmp_path, quiet_args, max_steps=2, pooler=pooler, mlp_only_train=mlp_only_train, max_seq_length=8)
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
    long_text = " ".join(sentences[:4])
    assert trainer.data_collator([{"text": long_text}])["text_input_ids"].shape[1] == 8, "training truncates at 8"
    trainer.train()
    trainer.save_model(args.output_dir)
    reloaded = SentenceTransformer(args.output_dir)
    trainer.model.eval()
    expected = trainer.model.encode(sentences, convert_to_tensor=True)
    assert torch.equal(reloaded.encode(sentences, convert_to_tensor=True), expected)
    assert trainer.model.max_seq_length == reloaded.max_seq_length == 32, "the model keeps its own length"


def test_sts_eval_selects_the_best_checkpoint_with_loss_state(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=4, pooler="cls", eval_strategy="steps", eval_steps=2,
                     save_strategy="steps", save_steps=2, load_best_model_at_end=True,
                     metric_for_best_model="eval_sts-dev_spearman_cosine")
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}),
                            eval_dataset=sts_dev(sentences))
    assert trainer.eval_dataset is None and trainer.evaluator is not None
    trainer.train()
    scores = [h["eval_sts-dev_spearman_cosine"] for h in trainer.state.log_history if "eval_sts-dev_spearman_cosine" in h]
    assert len(scores) == 2
    best = trainer.state.best_model_checkpoint
    assert best is not None and trainer.state.best_metric == max(scores)
    saved = load_file(os.path.join(best, "loss_state.safetensors"))
    assert set(saved) == {"mlp.0.weight", "mlp.0.bias"}
    assert torch.equal(trainer.loss.mlp[0].weight.detach(), saved["mlp.0.weight"]), "best MLP restored with the model"
    with torch.no_grad():  # whichever checkpoint won, loading it must restore the loss's MLP
        trainer.loss.mlp[0].weight.add_(1.0)
    trainer._load_from_checkpoint(best)
    assert torch.equal(trainer.loss.mlp[0].weight.detach(), saved["mlp.0.weight"])


def test_resume_restores_the_loss_state(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    data = Dataset.from_dict({"text": sentences})
    common = dict(max_steps=4, pooler="cls", save_strategy="steps", save_steps=2)
    full = SimCSETrainer(model=tiny_encoder_dir, args=make_args(tmp_path / "a", quiet_args, **common), train_dataset=data)
    full.train()
    args = make_args(tmp_path / "b", quiet_args, **common)
    SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=data).train()
    resumed = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=data)
    resumed.train(resume_from_checkpoint=os.path.join(args.output_dir, "checkpoint-2"))
    expected_loss, resumed_loss = full.loss_state_dict(), resumed.loss_state_dict()
    assert expected_loss.keys() == resumed_loss.keys() == {"mlp.0.weight", "mlp.0.bias"}
    for name, expected in expected_loss.items():
        assert torch.allclose(expected, resumed_loss[name], atol=1e-6), name
    expected_state, resumed_state = full.model.state_dict(), resumed.model.state_dict()
    assert expected_state.keys() == resumed_state.keys()
    for name, expected in expected_state.items():
        assert torch.allclose(expected, resumed_state[name], atol=1e-6), name


def test_accepts_a_sentence_transformer_and_a_user_loss(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    args = make_args(tmp_path, quiet_args, max_steps=1, max_seq_length=16)
    loss = MultipleNegativesRankingLoss(model)
    trainer = SimCSETrainer(model=model, args=args, loss=loss,
                            train_dataset=Dataset.from_dict({"anchor": sentences, "positive": sentences}),
                            )
    assert trainer.loss is loss and trainer.model is model
    assert model.max_seq_length == 32 and trainer.data_collator.max_length == 16, "the user's model is not changed"
    trainer.train()


def test_simcse_loss_in_a_plain_sentence_transformer_trainer(tiny_encoder_dir, sentences, tmp_path,
                                                               plain_quiet_args):
    from sentence_transformers import SentenceTransformerTrainingArguments

    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=8,
                                                learning_rate=1e-3, **plain_quiet_args)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if "pooler.dense" not in n}
    trainer = SentenceTransformerTrainer(model=model, args=args, loss=SimCSELoss(model, do_mlm=True),
                                         train_dataset=Dataset.from_dict({"text": sentences}))
    trainer.train()
    assert all(not torch.equal(p, dict(model.named_parameters())[n]) for n, p in before.items())


@pytest.mark.parametrize("kwargs,message", [
    ({"temperature": 0.0}, "`temperature` must be > 0, got 0.0"),
    ({"temperature": -0.05}, "`temperature` must be > 0, got -0.05"),
    ({"mode": "semi"}, "`mode` must be one of .* got 'semi'"),
    ({"pooler": "first_last"}, "Unknown `pooler` 'first_last'"),
    ({"pooler": "avg", "mlp_only_train": True}, "`mlp_only_train=True` needs `pooler='cls'`, got `pooler='avg'`"),
    ({"mlm_weight": -1.0}, "`mlm_weight` must be >= 0, got -1.0"),
    ({"mlm_probability": 0.0}, r"`mlm_probability` must be in \(0, 1\], got 0.0"),
    ({"max_seq_length": 0}, "`max_seq_length` must be >= 1, got 0"),
])
def test_config_errors_name_field_and_value(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SimCSEConfig(output_dir=str(tmp_path), **kwargs)


@pytest.mark.parametrize("mode,columns,message", [
    ("unsupervised", {"a": ["x"], "b": ["y"]}, r"one text column .* has columns \['a', 'b'\]"),
    ("supervised", {"text": ["x"]}, r"Supervised SimCSE needs .* has columns \['text'\]"),
    ("supervised", {"anchor": ["x"], "positive": [1]}, "column 'positive' must hold strings"),
    ("unsupervised", {"text": []}, "`train_dataset` is empty"),
])
def test_dataset_errors_name_the_columns(tiny_encoder_dir, tmp_path, quiet_args, mode, columns, message):
    args = make_args(tmp_path, quiet_args, max_steps=1, mode=mode)
    with pytest.raises(ValueError, match=message):
        SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict(columns))


def test_pooler_with_a_sentence_transformer_is_an_error(tiny_encoder_dir, tmp_path, quiet_args):
    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    with pytest.raises(ValueError, match="`pooler='cls'` applies when `model` is a name or path"):
        SimCSETrainer(model=model, args=make_args(tmp_path, quiet_args, pooler="cls"))


def test_objective_fields_with_a_user_loss_are_an_error(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    args = make_args(tmp_path, quiet_args, temperature=0.1, do_mlm=True)
    with pytest.raises(ValueError, match=r"`do_mlm=True`, `temperature=0.1` configure the default loss"):
        SimCSETrainer(model=model, args=args, loss=SimCSELoss(model),
                      train_dataset=Dataset.from_dict({"text": sentences}))


def test_mlp_only_train_with_a_sentence_transformer_is_an_error(tiny_encoder_dir, tmp_path, quiet_args):
    model = build_sentence_transformer(tiny_encoder_dir, pooler="cls_before_pooler")
    with pytest.raises(ValueError, match="pass `loss=SimCSELoss\\(model, mlp_only_train=True\\)`"):
        SimCSETrainer(model=model, args=make_args(tmp_path, quiet_args, mlp_only_train=True))


def test_loss_state_excludes_the_model_inside_a_wrapper_loss(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    model = build_sentence_transformer(tiny_encoder_dir, pooler="cls_before_pooler")

    class Wrapper(torch.nn.Module):  # like MatryoshkaLoss: the model sits one level down
        def __init__(self):
            super().__init__()
            self.inner = SimCSELoss(model, mlp_only_train=True)
            self.model = model

        def forward(self, features, labels):
            return self.inner(features, labels)

    trainer = SimCSETrainer(model=model, args=make_args(tmp_path, quiet_args, max_steps=1), loss=Wrapper(),
                            train_dataset=Dataset.from_dict({"text": sentences}))
    assert set(trainer.loss_state_dict()) == {"inner.mlp.0.weight", "inner.mlp.0.bias"}


def test_user_evaluator_and_sts_dataset_both_run(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    from hf_contrastive import STSEvaluator

    other = STSEvaluator(sentences[:8], sentences[8:16], [float(i) for i in range(8)], name="mine")
    args = make_args(tmp_path, quiet_args, max_steps=1, eval_strategy="steps", eval_steps=1)
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}),
                            eval_dataset=sts_dev(sentences), evaluator=other)
    trainer.train()
    logged = set().union(*trainer.state.log_history)
    assert {"eval_mine_spearman_cosine", "eval_sts-dev_spearman_cosine"} <= logged


def test_every_negative_column_is_kept(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    data = Dataset.from_dict({"anchor": sentences[:8], "positive": sentences[8:16], "negative": sentences[16:24],
                              "negative_2": sentences[24:32], "source": ["x"] * 8, "negative_score": [0.1] * 8,
                              "negative_source": ["y"] * 8})
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=make_args(tmp_path, quiet_args, mode="supervised"),
                            train_dataset=data)
    assert trainer.train_dataset.column_names == ["anchor", "positive", "negative", "negative_2"]


def test_dataset_dicts_and_streams_get_clear_errors(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    from datasets import DatasetDict, IterableDataset

    splits = DatasetDict({"train": Dataset.from_dict({"text": sentences})})
    with pytest.raises(ValueError, match=r"a dict of splits \['train'\]; pass one split"):
        SimCSETrainer(model=tiny_encoder_dir, args=make_args(tmp_path, quiet_args), train_dataset=splits)
    stream = IterableDataset.from_generator(lambda: iter({"text": s} for s in sentences))
    with pytest.raises(ValueError, match="streaming IterableDataset"):
        SimCSETrainer(model=tiny_encoder_dir, args=make_args(tmp_path, quiet_args), train_dataset=stream)


def test_max_seq_length_reaches_a_user_collator(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator

    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    trainer = SimCSETrainer(model=model, args=make_args(tmp_path, quiet_args, max_seq_length=6),
                            data_collator=SentenceTransformerDataCollator(preprocess_fn=model.preprocess),
                            train_dataset=Dataset.from_dict({"text": sentences}))
    assert trainer.data_collator([{"text": " ".join(sentences[:3])}])["text_input_ids"].shape[1] == 6
    with pytest.raises(ValueError, match="cannot reach the given `data_collator`"):
        SimCSETrainer(model=model, args=make_args(tmp_path, quiet_args, max_seq_length=6),
                      data_collator=lambda rows: rows, train_dataset=Dataset.from_dict({"text": sentences}))


def test_load_best_model_at_end_restores_an_earlier_loss_state(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    from sentence_transformers.base.evaluation import BaseEvaluator

    class Scripted(BaseEvaluator):  # checkpoint-2 scores best, checkpoint-4 worse
        def __init__(self):
            super().__init__()
            self.primary_metric, self.scores = "scripted", iter([0.9, 0.1])

        def __call__(self, model, output_path=None, epoch=-1, steps=-1):
            return {"scripted": next(self.scores)}

    args = make_args(tmp_path, quiet_args, max_steps=4, pooler="cls", eval_strategy="steps", eval_steps=2,
                     save_strategy="steps", save_steps=2, load_best_model_at_end=True,
                     metric_for_best_model="eval_scripted")
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}),
                            evaluator=Scripted())
    trainer.train()
    assert trainer.state.best_model_checkpoint.endswith("checkpoint-2")
    early = load_file(os.path.join(args.output_dir, "checkpoint-2", "loss_state.safetensors"))
    late = load_file(os.path.join(args.output_dir, "checkpoint-4", "loss_state.safetensors"))
    assert not torch.equal(early["mlp.0.weight"], late["mlp.0.weight"])
    assert torch.equal(trainer.loss.mlp[0].weight.detach(), early["mlp.0.weight"])
