"""Train a LoRA config, then release it to local folders twice: adapters merged (a plain model) and adapters only.

    python examples/release_locally.py examples/cpu/simcse_lora.yaml [--FIELD VALUE ...]

The config and the overrides are read by the package's own loader (`load_run`: the same parser as
`hf-contrastive train`). The releases are what `push_to_hub` would upload, model card included:
`OUTPUT_DIR/release-merged` loads without peft, `OUTPUT_DIR/release-adapters` needs peft and the base model, which
its `adapter_config.json` names by Hub id (so it is skipped, with the reason, for a base model given as a local path).
"""

import os
import sys

from sentence_transformers import SentenceTransformer

from hf_contrastive import prepare_release
from hf_contrastive.config_file import load_run
from hf_contrastive.hub.push import is_local_path


def main(argv: list[str]) -> None:
    run = load_run(argv[0], argv[1:])
    trainer = run.build_trainer()
    trainer.train()
    base = run.config.run.model
    for release, merge in (("merged", True), ("adapters", False)):
        if not merge and is_local_path(base):
            print(f"adapters: skipped, the base model {base!r} is a local path and an adapter-only release names its "
                  "base model by Hub id")
            continue
        folder = os.path.join(trainer.args.output_dir, f"release-{release}")
        prepare_release(trainer.model, folder, merge=merge, base_model_id=base,
                        card=trainer.card_data(release=release, base_model=base))
        embedding = SentenceTransformer(folder).encode(["A man is playing a guitar."])
        print(f"{release}: {folder} ({embedding.shape[1]}-dimensional embeddings)")


if __name__ == "__main__":
    main(sys.argv[1:] or [os.path.join(os.path.dirname(__file__), "cpu", "simcse_lora.yaml")])
