"""The small training runs of the resume, non-finite-loss and push-failure tests, and a way to make a loss
non-finite: SimCSE (unsupervised, with the loss-owned MLP), DeCLUTR, SFT+contrastive and SupCon on the tiny encoder."""

from __future__ import annotations

MAX_STEPS, SAVE_STEPS = 8, 2
METHOD_RUNS = {"simcse": "simcse", "declutr": "declutr", "sft_contrastive": "sft-mixing", "supcon": "supcon"}
COMMON = dict(use_cpu=True, report_to="none", logging_steps=1, disable_tqdm=True, seed=0, dataloader_drop_last=False,
              max_steps=MAX_STEPS, save_strategy="steps", save_steps=SAVE_STEPS)


def make_trainer(method: str, model_dir: str, output_dir: str, **overrides):
    """SimCSE unsupervised (dropout on, the loss-owned MLP of `mlp_only_train`), DeCLUTR (spans drawn per epoch, MLM
    head in the loss) or SFT+contrastive alternating, mixing or mixing with the consistency term (head in the loss):
    8 steps, a checkpoint every 2, 4 steps an
    epoch, so step 6 is in the middle of the second epoch."""
    from datasets import Dataset

    from hf_contrastive import (DeCLUTRConfig, DeCLUTRTrainer, SFTContrastiveConfig, SFTContrastiveTrainer,
                                SimCSEConfig, SimCSETrainer, SupConConfig, SupConTrainer)
    from tests.helpers.encoder import SENTENCES

    settings = COMMON | dict(output_dir=output_dir) | overrides
    if method == "simcse":
        args = SimCSEConfig(**(dict(per_device_train_batch_size=8, learning_rate=1e-3, pooler="cls",
                                    mode="unsupervised") | settings))
        assert args.resolved_mlp_only_train
        return SimCSETrainer(model=model_dir, args=args, train_dataset=Dataset.from_dict({"text": SENTENCES}))
    if method == "declutr":
        documents = Dataset.from_dict({"text": [" . ".join(SENTENCES[i:] + SENTENCES[:i]) for i in range(8)]})
        args = DeCLUTRConfig(**(dict(per_device_train_batch_size=2, learning_rate=1e-3, min_span_len=4,
                                     max_span_len=24, warmup_steps=0) | settings))
        return DeCLUTRTrainer(model=model_dir, args=args, train_dataset=documents)
    if method in ("sft", "sft-mixing", "sft-consistency"):  # mixing: 5 labelled rows cycled, 2 in each batch beside
        mixing = method != "sft"  # 6 of 24 unlabelled; consistency: mixing with FixMatch's term, warmed up over 4 steps
        labelled = Dataset.from_dict({"text": SENTENCES, "label": [i % 3 for i in range(len(SENTENCES))]})
        composition = dict(labelled_per_batch=2) if mixing else dict(strategy="alternating")
        if method == "sft-consistency":
            composition |= dict(consistency="fixmatch", consistency_threshold=0.0, consistency_warmup_steps=4)
        args = SFTContrastiveConfig(**(dict(per_device_train_batch_size=8, learning_rate=1e-2, **composition)
                                       | settings))
        return SFTContrastiveTrainer(model=model_dir, args=args,
                                     train_dataset=labelled.select(range(5)) if mixing else labelled,
                                     unlabelled_dataset=Dataset.from_dict({"text": SENTENCES[8:] if mixing
                                                                          else SENTENCES[::-1]}))
    if method == "supcon":  # two dropout views of each text, 3 classes
        args = SupConConfig(**(dict(per_device_train_batch_size=8, learning_rate=1e-3) | settings))
        labelled = Dataset.from_dict({"text": SENTENCES, "label": [i % 3 for i in range(len(SENTENCES))]})
        return SupConTrainer(model=model_dir, args=args, train_dataset=labelled)
    raise ValueError(f"unknown method {method!r}")


def poison(loss, at_call: int, value: float):
    """Make the `at_call`-th training call of `loss` return `value` (NaN or inf): in its `mlm` term when it returns
    a dict, else in the loss itself."""
    forward, calls = loss.forward, []

    def poisoned(*args, **kwargs):
        out = forward(*args, **kwargs)
        if loss.model.training:
            calls.append(1)
            if len(calls) == at_call:
                if isinstance(out, dict):
                    return {**out, "mlm": out["mlm"] * value}
                return out * value
        return out

    loss.forward = poisoned
