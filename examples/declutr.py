"""DeCLUTR with the Python API; settings from a YAML file (default: declutr.yaml beside this).

    python examples/declutr.py [CONFIG.yaml]

The paper's setting needs a GPU and the Hub (distilroberta-base, OpenWebText). The config's `train_file` may
instead point at a local `.txt` file with one document per line, or a `.jsonl` file with a `text` field.
"""

import os
import sys
from dataclasses import dataclass, field

from datasets import load_dataset
from transformers import HfArgumentParser

from hf_contrastive import DeCLUTRConfig, DeCLUTRTrainer, STSEvaluator, load_stsb
from hf_contrastive.data.loading import load_text_dataset


@dataclass
class ScriptArguments:
    model: str = field(metadata={"help": "Hub id or path of the encoder (or of a SentenceTransformer)."})
    dataset_name: str | None = field(default=None, metadata={"help": "Hub dataset with a `text` column."})
    dataset_split: str = field(default="train", metadata={"help": "Split (slicing syntax allowed)."})
    train_file: str | None = field(default=None, metadata={"help": "Local .txt (a document per line) or .jsonl."})
    sts_eval: str = field(default="stsb-dev", metadata={"help": "stsb-dev (shipped) or none."})
    method: str = field(default="declutr", metadata={"help": "Read by `hf-contrastive train`; must be declutr."})


def main(config_path: str) -> None:
    script, args = HfArgumentParser((ScriptArguments, DeCLUTRConfig)).parse_yaml_file(config_path)
    if script.train_file:
        documents = load_text_dataset(script.train_file)
    elif script.dataset_name:
        documents = load_dataset(script.dataset_name, split=script.dataset_split)
    else:
        raise ValueError(f"{config_path}: give `train_file` or `dataset_name`.")
    trainer = DeCLUTRTrainer(model=script.model, args=args, train_dataset=documents,
                             eval_dataset=load_stsb("dev") if script.sts_eval == "stsb-dev" else None)
    trainer.train()
    trainer.save_model(args.output_dir)
    if trainer.is_world_process_zero():
        print(STSEvaluator.from_dataset(load_stsb("test"), name="sts-test")(trainer.model))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "declutr.yaml"))
