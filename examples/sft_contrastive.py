"""SFT+contrastive with the Python API; settings from a YAML file (default: sft_contrastive.yaml beside this).

    python examples/sft_contrastive.py [CONFIG.yaml]

Semi-supervised fine-tuning: a few labelled rows (one text column, or a pair such as premise/hypothesis, and
`label`) and many unlabelled texts for the contrastive term (`unlabelled_split` of the same dataset, or an
`unlabelled_file`); reports task accuracy and STS-B Spearman, before and after, so the cost of fine-tuning on the
general embedding quality is visible. The YAML beside this: 1% of AG News labelled, the other 99% unlabelled.
"""

import os
import sys
from dataclasses import dataclass, field

from datasets import load_dataset
from transformers import HfArgumentParser

from hf_contrastive import SFTContrastiveConfig, SFTContrastiveTrainer, STSEvaluator, load_stsb
from hf_contrastive.data.loading import load_text_dataset


@dataclass
class ScriptArguments:
    model: str = field(metadata={"help": "Hub id or path of a SentenceTransformer (or a plain encoder)."})
    dataset_name: str | None = field(default=None, metadata={"help": "Hub dataset with text column(s) and `label`."})
    dataset_config: str | None = field(default=None, metadata={"help": "Its configuration (e.g. pair-class)."})
    dataset_split: str = field(default="train", metadata={"help": "Training split (slicing syntax allowed)."})
    eval_split: str | None = field(default=None, metadata={"help": "Labelled evaluation split of dataset_name."})
    train_file: str | None = field(default=None, metadata={"help": "Local labelled .csv/.tsv/.jsonl instead."})
    eval_file: str | None = field(default=None, metadata={"help": "Local labelled evaluation file."})
    unlabelled_file: str | None = field(default=None, metadata={"help": "Texts for the contrastive term only."})
    unlabelled_split: str | None = field(default=None, metadata={"help": "Or a split of dataset_name (labels unused)."})
    sts_eval: str = field(default="stsb-dev", metadata={"help": "stsb-dev (shipped) or none."})
    method: str = field(default="sft_contrastive", metadata={"help": "Read by `hf-contrastive train`."})


def load(script: ScriptArguments, file: str | None, split: str | None):
    if file:
        return load_text_dataset(file)
    if script.dataset_name and split:
        return load_dataset(script.dataset_name, script.dataset_config, split=split)
    return None


def main(config_path: str) -> None:
    script, args = HfArgumentParser((ScriptArguments, SFTContrastiveConfig)).parse_yaml_file(config_path)
    train = load(script, script.train_file, script.dataset_split)
    if train is None:
        raise ValueError(f"{config_path}: give `train_file` or `dataset_name`.")
    if train.features["label"].dtype == "string":
        train = train.class_encode_column("label")
    evaluation = load(script, script.eval_file, script.eval_split)
    if evaluation is not None and getattr(train.features["label"], "names", None):
        evaluation = evaluation.cast_column("label", train.features["label"])
    sts = STSEvaluator.from_dataset(load_stsb("dev"), name="sts-dev") if script.sts_eval == "stsb-dev" else None
    trainer = SFTContrastiveTrainer(
        model=script.model, args=args, train_dataset=train, eval_dataset=evaluation, evaluator=sts,
        unlabelled_dataset=load(script, script.unlabelled_file, script.unlabelled_split),
    )
    before = sts.compute_metrics(trainer.model) if sts is not None else {}
    trainer.train()
    trainer.save_model(args.output_dir)  # the SentenceTransformer + classifier/ (EmbeddingClassifier.from_pretrained)
    if trainer.is_world_process_zero():
        print({"sts-dev before": before, **trainer.evaluate()})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "sft_contrastive.yaml"))
