"""The cases of the gather test (tests/losses/test_gather.py and its worker tests/losses/gather_worker.py): every
objective on a batch of 8 rows, built the same way in one process and in each of the two."""

from __future__ import annotations

import torch

from hf_contrastive.losses import DeCLUTRLoss, SFTContrastiveLoss, SimCSELoss, SupConLoss
from hf_contrastive.modeling import build_sentence_transformer
from hf_contrastive.modeling.lora import add_lora
from tests.helpers.encoder import SENTENCES as ALL

SENTENCES = (ALL[:8], ALL[8:16], ALL[16:24])  # anchors, positives, hard negatives


def _model(model_dir, *, lora=False):
    torch.manual_seed(0)
    model = build_sentence_transformer(model_dir, pooler="avg")
    if lora:  # random A and B, so that every adapter weight has a gradient
        import peft

        add_lora(model, peft.LoraConfig(task_type=peft.TaskType.FEATURE_EXTRACTION, r=4, lora_alpha=8,
                                        target_modules=["query", "value"], init_lora_weights=False))
    return model


def _drifted(model):
    """The model moved away from its frozen reference, so that SFT's contrastive term has a gradient."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(1)))
    return model


def _columns(model, count):
    return lambda rows: ([dict(model.preprocess(c[rows])) for c in SENTENCES[:count]], None)


def _labelled(model, labels):
    return lambda rows: ([dict(model.preprocess(SENTENCES[0][rows]))], labels[rows])


UNEVEN = torch.tensor([0, 1, -1, 1, 0, -1, -1, -1])  # rank 0 holds 1 unlabelled row, rank 1 holds 3
CLASSES = torch.tensor([0, 1, 0, 2, 1, 1, 2, 3])  # class 3 has one member: an anchor without positives
LONELY = torch.tensor([0, 1, 2, 3, 5, 5, 6, 6])  # no anchor of rank 0 has a positive anywhere
ONE_SIDED = torch.tensor([0, 1, 0, 1, -1, -1, -1, -1])  # rank 0 has no unlabelled row
LABELLED = torch.tensor([0, 1, 0, 1, 1, 0, 1, 0])  # no unlabelled row anywhere
SUPCON_OPTIONS = {"zero": {"anchors_without_positive": "zero"}, "one": {"contrast_mode": "one", "num_views": 2},
                  "zero+one": {"anchors_without_positive": "zero", "contrast_mode": "one"}}


def build_losses(model_dir, gather, gradients="full"):
    """Every objective, each on its own model in eval mode (no dropout, so that the processes and the single process
    see the same embeddings), with `(loss, inputs(rows))`, gathering with `gradients` (`gather_gradients`). Uneven SFT
    rows and SupCon anchors without positives check that the mean is taken over all processes' terms."""
    losses = {}
    on = {"gather_across_devices": gather, "gather_gradients": gradients}
    model = _model(model_dir).eval()
    losses["simcse"] = (SimCSELoss(model, hard_negative_weight=0.7, **on), _columns(model, 3))
    model = _model(model_dir).eval()
    losses["simcse+gradcache"] = (SimCSELoss(model, hard_negative_weight=0.7, mini_batch_size=3, **on),
                                  _columns(model, 3))
    model = _model(model_dir, lora=True).eval()
    losses["simcse+gradcache+lora"] = (SimCSELoss(model, mlp_only_train=True, mini_batch_size=3, **on),
                                       _columns(model, 2))
    model = _model(model_dir).eval()
    losses["declutr"] = (DeCLUTRLoss(model, do_mlm=False, **on), _columns(model, 3))
    model = _model(model_dir).eval()
    losses["supcon"] = (SupConLoss(model, num_views=2, **on), _labelled(model, CLASSES))
    model = _model(model_dir).eval()
    losses["supcon+gradcache"] = (SupConLoss(model, mini_batch_size=3, **on), _labelled(model, CLASSES))
    for option, options in SUPCON_OPTIONS.items():  # one view: class 3 has an anchor without positive, rank 0 of
        for name, labels in (("", CLASSES), ("+no-positive-on-one-process", LONELY)):  # LONELY only such anchors
            model = _model(model_dir).eval()
            losses[f"supcon+{option}{name}"] = (SupConLoss(model, **options, **on), _labelled(model, labels))
    sft = {"num_labels": 2, "reference": "copy", "classifier_dropout": 0.0, **on}
    model = _model(model_dir)
    losses["sft"] = (SFTContrastiveLoss(model, negatives="reference", **sft),  # the others below
                     _labelled(_drifted(model).eval(), UNEVEN))
    model = _model(model_dir)
    losses["sft+unlabelled-rows"] = (SFTContrastiveLoss(model, contrastive_rows="unlabelled", **sft),
                                     _labelled(_drifted(model).eval(), UNEVEN))
    model = _model(model_dir)
    losses["sft+supcon"] = (SFTContrastiveLoss(model, contrastive="supcon", **sft),
                            _labelled(_drifted(model).eval(), UNEVEN))
    for negatives in ("fine_tuned", "both"):  # the fine-tuned candidates of every process, with their gradients
        for name, kwargs in (("", {}), ("+gradcache", dict(mini_batch_size=3))):
            model = _model(model_dir)
            losses[f"sft+{negatives}{name}"] = (SFTContrastiveLoss(model, negatives=negatives, **kwargs, **sft),
                                                _labelled(_drifted(model).eval(), UNEVEN))
    for consistency, labels, kwargs in (("fixmatch", UNEVEN, {}), ("uda", UNEVEN, dict(mini_batch_size=3)),
                                        ("fixmatch", ONE_SIDED, {})):  # threshold 0: every unlabelled row counts
        model = _model(model_dir)
        name = "+".join(["sft", consistency, *(["gradcache"] if kwargs else []),
                         *(["no-unlabelled-on-one-process"] if labels is ONE_SIDED else [])])
        losses[name] = (SFTContrastiveLoss(model, consistency=consistency, consistency_threshold=0.0, **kwargs, **sft),
                        _labelled(_drifted(model).eval(), labels))
    model = _model(model_dir).eval()
    losses["supcon+no-positive-on-one-process"] = (SupConLoss(model, **on), _labelled(model, LONELY))
    for contrastive, negatives in (("info_nce", "reference"), ("info_nce", "fine_tuned"), ("supcon", "reference")):
        for name, labels in (("no-rows-on-one-process", ONE_SIDED), ("no-rows-anywhere", LABELLED)):
            model = _model(model_dir)  # a process (or every process) without contrastive rows
            loss = SFTContrastiveLoss(model, negatives=negatives, contrastive=contrastive, contrastive_rows="unlabelled",
                                      **sft)
            losses[f"sft+{contrastive}+{negatives}+{name}"] = (loss, _labelled(_drifted(model).eval(), labels))
    return losses


def gradients(loss):
    return {n: p.grad.detach().clone() for n, p in loss.named_parameters() if p.grad is not None}
