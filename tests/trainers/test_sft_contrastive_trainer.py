import os

import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Value
from safetensors.torch import load_file
from sentence_transformers import SentenceTransformer

from hf_contrastive import EmbeddingClassifier, SFTContrastiveConfig, SFTContrastiveLoss, SFTContrastiveTrainer
from hf_contrastive.errors import DataError
from hf_contrastive.modeling import build_sentence_transformer
from tests.helpers.training import sts_dev

NAMES = ["animal", "person", "thing"]


def labelled(sentences, names=True):
    labels = [i % 3 for i in range(len(sentences))]
    if not names:
        return Dataset.from_dict({"text": sentences, "label": labels})
    features = Features({"text": Value("string"), "label": ClassLabel(names=NAMES)})
    return Dataset.from_dict({"text": sentences, "label": labels}, features=features)


def make_args(tmp_path, quiet_args, **kwargs):
    return SFTContrastiveConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, learning_rate=1e-2,
                                **(quiet_args | kwargs))


def snapshot(module):
    return {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}


def unchanged(before, module):
    after = dict(module.named_parameters())
    return [n for n, p in before.items() if torch.equal(p, after[n]) and "pooler.dense" not in n]  # BERT's unused NSP


@pytest.mark.parametrize("strategy", ["mixing", "alternating"])
def test_every_trainable_parameter_changes(tiny_encoder_dir, sentences, tmp_path, quiet_args, strategy):
    args = make_args(tmp_path, quiet_args, max_steps=4, strategy=strategy)
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled(sentences),
                                    unlabelled_dataset=Dataset.from_dict({"text": sentences[::-1]}))
    model_before, head_before = snapshot(trainer.model), snapshot(trainer.loss.head)
    reference_before = {n: p.detach().clone() for n, p in trainer.loss.reference.copy.named_parameters()}
    trainer.train()
    assert unchanged(model_before, trainer.model) == [] and unchanged(head_before, trainer.loss.head) == []
    reference_after = dict(trainer.loss.reference.copy.named_parameters())
    assert all(torch.equal(p, reference_after[n]) for n, p in reference_before.items()), "the reference is frozen"


def test_alternating_batches_take_turns(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=6, strategy="alternating")
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled(sentences),
                                    unlabelled_dataset=Dataset.from_dict({"sentence": sentences}))
    trainer.train()
    steps = [h for h in trainer.state.log_history if "sft" in h]
    assert len(steps) == 6
    for index, logged in enumerate(steps):  # labelled, unlabelled, labelled, ...
        assert (logged["sft"] > 0, logged["contrastive"] > 0) == ((True, False) if index % 2 == 0 else (False, True))


def record_batches(trainer):
    """The tensors of every batch the trainer computes a loss on, in order."""
    seen, compute_loss = [], trainer.compute_loss

    def recording(model, inputs, *args, **kwargs):
        if model.training:
            seen.append({k: v.tolist() for k, v in inputs.items() if isinstance(v, torch.Tensor)})
        return compute_loss(model, inputs, *args, **kwargs)

    trainer.compute_loss = recording
    return seen


@pytest.mark.parametrize("labelled_per_batch,rows", [(3, 3), (0.25, 2), (None, 4)])
def test_mixing_puts_exactly_labelled_per_batch_labelled_rows_in_every_batch(tiny_encoder_dir, sentences, tmp_path,
                                                                              quiet_args, labelled_per_batch, rows):
    """5 labelled rows cycled (reshuffled each pass) beside 24 unlabelled ones: every batch has its share of each
    (unset: half the batch), and an epoch is one pass over the unlabelled set."""
    args = make_args(tmp_path, quiet_args, num_train_epochs=1, labelled_per_batch=labelled_per_batch)
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled(sentences[:5]),
                                    unlabelled_dataset=Dataset.from_dict({"text": sentences[8:]}))
    batches = record_batches(trainer)
    trainer.train()
    assert len(batches) == -(-24 // (8 - rows))
    assert all(sum(label >= 0 for label in b["label"]) == rows and len(b["label"]) == 8 for b in batches)
    logged = [h for h in trainer.state.log_history if "sft" in h]
    assert all(h["sft"] > 0 and h["contrastive"] > 0 for h in logged)


def test_the_card_shows_the_labelled_rows_an_unset_labelled_per_batch_gave(tiny_encoder_dir, sentences, tmp_path,
                                                                             quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=1)
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled(sentences[:5]),
                                    unlabelled_dataset=Dataset.from_dict({"text": sentences[8:]}))
    assert args.labelled_per_batch is None and trainer.card_settings()["labelled_per_batch"] == 4  # half of 8
    alone = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled(sentences[:16]))
    assert alone.card_settings()["labelled_per_batch"] is None  # every row labelled: plain batches


def test_mixing_puts_unlabelled_rows_in_every_batch(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=2)
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled(sentences[:16]),
                                    unlabelled_dataset=Dataset.from_dict({"sentence": sentences[16:]}))
    assert len(trainer.train_dataset) == 32 and trainer.train_dataset["label"][16:] == [-1] * 16
    assert trainer.train_dataset.column_names == ["text", "label"]
    trainer.train()
    logged = [h for h in trainer.state.log_history if "sft" in h]
    assert all(h["sft"] > 0 and h["contrastive"] > 0 for h in logged)


def test_evaluation_reports_accuracy_and_f1_that_the_saved_classifier_reproduces(tiny_encoder_dir, sentences,
                                                                                  tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=3, classifier_dropout=0.0)
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled(sentences),
                                    eval_dataset=labelled(sentences[:20]))
    trainer.train()
    metrics = trainer.evaluate()
    assert {"eval_loss", "eval_accuracy", "eval_f1"} <= set(metrics)
    assert {"eval_sft", "eval_contrastive"} <= set(trainer.state.log_history[-1])  # components go to the logs
    trainer.save_model()
    assert SentenceTransformer(args.output_dir).get_embedding_dimension() == 16  # the plain embedding model
    classifier = EmbeddingClassifier.from_pretrained(args.output_dir)
    assert classifier.head.id2label == dict(enumerate(NAMES))
    predicted = classifier.predict(sentences[:20])
    gold = [NAMES[i % 3] for i in range(20)]
    assert metrics["eval_accuracy"] == pytest.approx(sum(p == g for p, g in zip(predicted, gold)) / 20)


def test_pairs_train_a_pair_head(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    pairs = Dataset.from_dict({"premise": sentences[:16], "hypothesis": sentences[16:], "label": [0, 1] * 8})
    args = make_args(tmp_path, quiet_args, max_steps=2)
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=pairs, eval_dataset=pairs)
    trainer.train()
    assert trainer.loss.head.num_inputs == 2 and "eval_accuracy" in trainer.evaluate()
    trainer.save_model()
    classifier = EmbeddingClassifier.from_pretrained(args.output_dir)
    assert classifier.predict([(sentences[0], sentences[16])])[0] in {"0", "1"}
    with pytest.raises(ValueError, match="pass a list of \\(text, text\\) tuples"):
        classifier.predict(sentences[:2])


def test_supcon_term_trains(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=2, contrastive="supcon")
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled(sentences))
    trainer.train()
    assert trainer.loss.contrastive == "supcon" and trainer.loss.temperature == 0.07
    assert all(h["contrastive"] > 0 for h in trainer.state.log_history if "contrastive" in h)


@pytest.mark.parametrize("consistency", ["fixmatch", "uda"])
def test_the_consistency_term_trains_every_parameter_and_warms_up(tiny_encoder_dir, sentences, tmp_path, quiet_args,
                                                                  consistency):
    """With unlabelled rows in every batch the term is logged, with the share of them that got a pseudo-label; its
    weight is 0 at step 0 of the warm-up and grows with it; every trainable parameter (encoder and head) changes."""
    args = make_args(tmp_path, quiet_args, max_steps=6, consistency=consistency, consistency_threshold=0.0,
                     consistency_warmup_steps=4, contrastive_weight=0.0)  # λ = 0: the head's terms only
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled(sentences[:8]),
                                    unlabelled_dataset=Dataset.from_dict({"text": sentences[8:]}))
    model_before, head_before = snapshot(trainer.model), snapshot(trainer.loss.head)
    trainer.train()
    assert unchanged(model_before, trainer.model) == [] and unchanged(head_before, trainer.loss.head) == []
    logged = [h["consistency"] for h in trainer.state.log_history if "consistency" in h and "loss" in h]
    assert len(logged) == 6 and logged[0] == 0.0 and all(value > 0 for value in logged[1:])
    assert [h["pseudo_label_share"] for h in trainer.state.log_history if "loss" in h] == [1.0] * 6  # threshold 0
    assert trainer.loss.get_config_dict()["consistency"] == consistency


def test_the_consistency_term_needs_unlabelled_rows(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    with pytest.raises(DataError, match=r"`consistency='fixmatch'` trains on unlabelled rows, but the training data "
                                        r"has none"):
        SFTContrastiveTrainer(model=tiny_encoder_dir, args=make_args(tmp_path, quiet_args, consistency="fixmatch"),
                              train_dataset=labelled(sentences))


def test_head_learning_rate_gets_its_own_parameter_group(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=1, head_learning_rate=0.5)
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled(sentences))
    trainer.create_optimizer()
    head = {id(p) for p in trainer.loss.head.parameters()}
    groups = [g for g in trainer.optimizer.param_groups if {id(p) for p in g["params"]} & head]
    assert groups and all(g["lr"] == 0.5 and {id(p) for p in g["params"]} <= head for g in groups)


@pytest.mark.parametrize("composition", [dict(strategy="alternating", unlabelled_batches_per_labelled=2),
                                         dict(strategy="mixing", labelled_per_batch=2)], ids=["alternating", "mixing"])
def test_checkpoints_hold_the_head_not_the_reference_and_resume_exactly(tiny_encoder_dir, sentences, tmp_path,
                                                                         quiet_args, composition):
    """Resumed from checkpoint-4 (in the second epoch: 3 batches an epoch), the run draws the batches of the
    uninterrupted one and ends with its weights."""
    unlabelled = Dataset.from_dict({"text": sentences[16:]})
    common = dict(max_steps=6, save_strategy="steps", save_steps=4, **composition)
    full = SFTContrastiveTrainer(model=tiny_encoder_dir, args=make_args(tmp_path / "a", quiet_args, **common),
                                 train_dataset=labelled(sentences[:5]), unlabelled_dataset=unlabelled)
    full_batches = record_batches(full)
    full.train()
    assert full.state.epoch == 2
    args = make_args(tmp_path / "b", quiet_args, **common)
    SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled(sentences[:5]),
                          unlabelled_dataset=unlabelled).train()
    checkpoint = os.path.join(args.output_dir, "checkpoint-4")
    assert set(load_file(os.path.join(checkpoint, "loss_state.safetensors"))) == {"head.linear.weight",
                                                                                  "head.linear.bias"}
    assert os.path.isfile(os.path.join(checkpoint, "classifier", "model.safetensors"))
    resumed = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled(sentences[:5]),
                                    unlabelled_dataset=unlabelled)
    resumed_batches = record_batches(resumed)
    resumed.train(resume_from_checkpoint=checkpoint)
    assert resumed_batches == full_batches[4:] and len(resumed_batches) == 2
    for module in ("model", "loss"):
        expected, got = getattr(full, module).state_dict(), getattr(resumed, module).state_dict()
        assert expected.keys() == got.keys()
        for name, value in expected.items():
            assert torch.allclose(value, got[name], atol=1e-6), name


def test_sts_eval_dataset_becomes_the_sts_evaluator(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    args = make_args(tmp_path, quiet_args, max_steps=1)
    trainer = SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=labelled(sentences),
                                    eval_dataset=sts_dev(sentences))
    assert "eval_sts-dev_spearman_cosine" in trainer.evaluate()


def test_user_loss_and_sentence_transformer(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    loss = SFTContrastiveLoss(model, num_labels=3, contrastive_weight=0.5)
    args = make_args(tmp_path, quiet_args, max_steps=1)
    trainer = SFTContrastiveTrainer(model=model, args=args, train_dataset=labelled(sentences), loss=loss)
    trainer.train()
    assert trainer.loss is loss
    with pytest.raises(ValueError, match="`contrastive_weight=0.5` configures the default loss"):
        SFTContrastiveTrainer(model=model, args=make_args(tmp_path, quiet_args, contrastive_weight=0.5),
                              train_dataset=labelled(sentences), loss=loss)


@pytest.mark.parametrize("data,message", [
    ({"text": ["a cat", "a dog"], "label": ["x", "y"]}, "holds strings; SFT+contrastive needs class ids"),
    ({"text": ["a cat", "a dog"], "label": [0, 3]}, "row 1: label 3 is out of range for 2 classes"),
    ({"text": ["a cat", "a dog"], "label": [0.5, 1.0]}, "column 'label' must hold integer class ids"),
    ({"text": ["a cat", "a dog"], "label": [0, None]}, "row 1: 'label' is missing (None)"),
    ({"text": ["a cat", "a dog"]}, "needs a 'label' column of class ids; `train_dataset` has columns ['text']"),
    ({"a": ["x"], "b": ["y"], "c": ["z"], "label": [0]}, "has 3 columns besides 'label'"),
    ({"text": [1, 2], "label": [0, 1]}, "column 'text' must hold strings"),
    ({"text": ["a cat", "a dog"], "label": [0, 0]}, "has 1 class(es)"),
])
def test_dataset_errors_name_the_column_and_value(tiny_encoder_dir, tmp_path, quiet_args, data, message):
    args = make_args(tmp_path, quiet_args, num_labels=2 if data.get("label") == [0, 3] else None)
    with pytest.raises(ValueError) as error:
        SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict(data))
    assert message in str(error.value)


def test_data_combination_errors(tiny_encoder_dir, sentences, tmp_path, quiet_args):
    with pytest.raises(ValueError, match=r"`labelled_per_batch=2` \(per_device_train_batch_size=8\) asks for 6 "
                                         "unlabelled rows per batch, but the training data has none"):
        SFTContrastiveTrainer(model=tiny_encoder_dir, args=make_args(tmp_path, quiet_args, labelled_per_batch=2),
                              train_dataset=labelled(sentences))
    pairs = Dataset.from_dict({"premise": sentences[:4], "hypothesis": sentences[4:8], "label": [0, 1, 0, 1]})
    with pytest.raises(ValueError, match="strategy='alternating'` alternates labelled and unlabelled batches"):
        SFTContrastiveTrainer(model=tiny_encoder_dir, args=make_args(tmp_path, quiet_args, strategy="alternating"),
                              train_dataset=pairs)
    with pytest.raises(ValueError, match=r"needs the labelled set's text columns \['premise', 'hypothesis'\]"):
        SFTContrastiveTrainer(model=tiny_encoder_dir, args=make_args(tmp_path, quiet_args), train_dataset=pairs,
                              unlabelled_dataset=Dataset.from_dict({"text": sentences}))
    with pytest.raises(ValueError, match=r"`eval_dataset` lacks the text column\(s\) \['premise', 'hypothesis'\]"):
        SFTContrastiveTrainer(model=tiny_encoder_dir, args=make_args(tmp_path, quiet_args), train_dataset=pairs,
                              eval_dataset=labelled(sentences))
    with pytest.raises(ValueError, match="`eval_dataset` row 0: label 2 is out of range for 2 classes"):
        SFTContrastiveTrainer(model=tiny_encoder_dir, args=make_args(tmp_path, quiet_args), train_dataset=pairs,
                              eval_dataset=Dataset.from_dict({"premise": ["a"], "hypothesis": ["b"], "label": [2]}))


@pytest.mark.parametrize("kwargs,message", [
    (dict(strategy="both"), "`strategy` must be one of ('mixing', 'alternating'), got 'both'"),
    (dict(labelled_per_batch=8), "`labelled_per_batch=8` leaves no unlabelled row in a batch of "
                                 "`per_device_train_batch_size=8`"),
    (dict(labelled_per_batch=2, strategy="alternating"), "`labelled_per_batch=2` sets the batches of "
                                                         "`strategy='mixing'`"),
    (dict(negatives="frozen"), "`negatives` must be one of ('fine_tuned', 'reference', 'both'), got 'frozen'"),
    (dict(contrastive="supcon", strategy="alternating"), "use `strategy='mixing'`"),
    (dict(contrastive_weight=-1.0), "`contrastive_weight` (λ) must be >= 0, got -1.0"),
    (dict(temperature=-0.05), "`temperature` must be > 0, got -0.05"),
    (dict(reference="frozen"), "`reference` must be one of"),
    (dict(num_labels=1), "`num_labels` must be >= 2, got 1"),
    (dict(head_learning_rate=0.0), "`head_learning_rate` must be > 0, got 0.0"),
    (dict(consistency="pseudo"), "`consistency` must be one of ('none', 'fixmatch', 'uda'), got 'pseudo'"),
    (dict(consistency_threshold=-0.1), "`consistency_threshold` must be in [0, 1], got -0.1"),
])
def test_config_errors_name_field_and_value(tmp_path, kwargs, message):
    with pytest.raises(ValueError) as error:
        SFTContrastiveConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, **kwargs)
    assert message in str(error.value)
