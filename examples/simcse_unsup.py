"""Unsupervised SimCSE with the Python API; settings from a YAML file (default: simcse_unsup.yaml beside this).

    python examples/simcse_unsup.py [CONFIG.yaml]

The paper's setting needs a GPU and the Hub. To try it on CPU, offline, in a few minutes, run `hf-contrastive demo`.
"""

import os
import sys
from dataclasses import dataclass, field

from sentence_transformers import SentenceTransformer
from transformers import HfArgumentParser

from hf_contrastive import SimCSEConfig, SimCSETrainer, STSEvaluator, load_stsb
from hf_contrastive.data.loading import load_text_dataset


@dataclass
class ScriptArguments:
    model: str = field(metadata={"help": "Hub id or path of the encoder (or of a SentenceTransformer)."})
    train_file: str = field(metadata={"help": "One sentence per line (.txt), local path or URL."})
    sts_eval: str = field(default="stsb-dev", metadata={"help": "stsb-dev (shipped) or none."})
    method: str = field(default="simcse", metadata={"help": "Read by `hf-contrastive train`; must be simcse."})


def main(config_path: str) -> None:
    script, args = HfArgumentParser((ScriptArguments, SimCSEConfig)).parse_yaml_file(config_path)
    train_dataset = load_text_dataset(script.train_file)
    trainer = SimCSETrainer(
        model=script.model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=load_stsb("dev") if script.sts_eval == "stsb-dev" else None,
    )
    trainer.train()
    trainer.save_model(args.output_dir)

    model = SentenceTransformer(args.output_dir)  # the pooler used in training, nothing else needed
    print(STSEvaluator.from_dataset(load_stsb("test"), name="sts-test")(model))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "simcse_unsup.yaml"))
