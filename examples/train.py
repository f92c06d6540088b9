"""Train any method's config with the Python API, and show its evaluation before and after.

    python examples/train.py examples/cpu/simcse_unsup.yaml [--FIELD VALUE ...]

The config and the overrides are read by the package's own loader (`load_run`: the parser of `hf-contrastive
train`, so every key and flag is the same); this script adds the evaluation before training, which the command
line does not print.
"""

import os
import sys

from hf_contrastive.config_file import load_run


def main(argv: list[str]) -> dict:
    run = load_run(argv[0], argv[1:])
    trainer = run.build_trainer()
    evaluated = run.eval_dataset is not None or trainer.evaluator is not None
    before = trainer.evaluate(metric_key_prefix="before") if evaluated else {}
    trainer.train()
    trainer.save_model()
    after = trainer.evaluate() if evaluated else {}
    if trainer.is_world_process_zero():
        for name, value in {**before, **after}.items():
            if name.endswith(("spearman_cosine", "accuracy")):
                print(f"{name:40} {value:.4f}")
    return {**before, **after}


if __name__ == "__main__":
    main(sys.argv[1:] or [os.path.join(os.path.dirname(__file__), "cpu", "simcse_unsup.yaml")])
