"""Supervised SimCSE (NLI triplets with hard negatives) with the Python API; settings from a YAML file
(default: simcse_sup.yaml beside this).

    python examples/simcse_sup.py [CONFIG.yaml]
    torchrun --nproc_per_node 4 examples/simcse_sup.py      # data-parallel; negatives from all processes

Needs a GPU and the Hub for the paper's model and data.
"""

import os
import sys

from transformers import HfArgumentParser

from hf_contrastive import SimCSEConfig, SimCSETrainer, STSEvaluator, load_stsb
from hf_contrastive.data.loading import load_text_dataset
from simcse_unsup import ScriptArguments


def main(config_path: str) -> None:
    script, args = HfArgumentParser((ScriptArguments, SimCSEConfig)).parse_yaml_file(config_path)
    if args.mode != "supervised":
        raise ValueError(f"{config_path}: this example trains `mode: supervised`, got {args.mode!r}.")
    triplets = load_text_dataset(script.train_file)  # columns sent0, sent1, hard_neg
    trainer = SimCSETrainer(model=script.model, args=args, train_dataset=triplets,
                            eval_dataset=load_stsb("dev") if script.sts_eval == "stsb-dev" else None)
    trainer.train()
    trainer.save_model(args.output_dir)
    if trainer.is_world_process_zero():
        print(STSEvaluator.from_dataset(load_stsb("test"), name="sts-test")(trainer.model))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "simcse_sup.yaml"))
