"""`ContrastiveTrainer`'s saved models and releases: the classification head and this library's model card on every
save, and `push_to_hub` as a release written in full, then uploaded."""

from __future__ import annotations

import inspect
import os
from typing import Any

from ..hub.card import write_card
from ..hub.card_data import CardData, card_data_from_trainer, set_evaluation
from ..hub.push import RELEASE_FOLDER, prepare_release, push_release
from ..modeling.classifier import CLASSIFIER_FOLDER
from ..modeling.lora import saving_adapters_with_peft


class ReleaseMixin:
    """The saving, model-card and `push_to_hub` half of `ContrastiveTrainer` (see its docstring)."""

    def card_settings(self) -> dict[str, Any]:
        """The config's `card_fields` as the model card shows them."""
        return {name: getattr(self.args, name) for name in self.card_fields}

    def classification_head(self) -> Any:
        """The classification head saved beside the model in `classifier/` (SFT+contrastive's), or `None`."""
        return None

    def card_data(self, *, release: str = "merged", model_id: str | None = None, evaluation: Any = None,
                  base_evaluation: Any = None, base_model: str | None = None) -> CardData:
        """The model card's data: the objective, data, hyperparameters, curve, LoRA and versions of this run, with
        `evaluation` (a suite result, a list of suite results — e.g. the STS and transfer suites' — or a list of
        `huggingface_hub.EvalResult`) as its model-index and `base_evaluation` (the same for the base model) beside
        it."""
        card = card_data_from_trainer(self, release=release, model_id=model_id)
        set_evaluation(card, evaluation, base_evaluation)
        card.base_model = base_model or card.base_model
        return card

    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        """sentence-transformers' save, then the classification head (if any) and this library's model card
        (replacing the generic one); a saved LoRA model holds its adapters (written by peft:
        `saving_adapters_with_peft`), and its card says so."""
        with saving_adapters_with_peft(self.model):
            super()._save(output_dir, state_dict)
        if self.args.should_save:  # transformers calls `_save` on every process; one writes
            folder = output_dir or self.args.output_dir
            head = self.classification_head()
            if head is not None:
                head.save_pretrained(os.path.join(folder, CLASSIFIER_FOLDER))
            write_card(folder, self.card_data(release="adapters"))

    def push_to_hub(self, commit_message: str | None = "End of training", blocking: bool = True,
                    token: str | None = None, revision: str | None = None, *, repo_id: str | None = None,
                    merge: bool = True, base_model_id: str | None = None, private: bool | None = None,
                    create_pr: bool = False, evaluation: Any = None, base_evaluation: Any = None,
                    timeout: float | None = None, **kwargs: Any) -> Any:
        """Release the trained model to the Hub.

        The release is written in full to `output_dir/release` (see `hf_contrastive.hub.prepare_release`): with LoRA,
        `merge=True` (default) merges the adapters into a standalone model and `merge=False` publishes the adapters,
        pointing at `base_model_id`. Then it is uploaded in one commit to `repo_id` (default `args.hub_model_id`, else
        the output folder's name under your user), to `revision` (a branch, created if missing) or as a pull request
        (`create_pr`), private if `private` (default `args.hub_private_repo`). The token (`token`, `args.hub_token`,
        or the one huggingface_hub finds) is only sent to the Hub. Returns huggingface_hub's `CommitInfo`; a failed
        upload, or a Hub request unanswered for `timeout` seconds (default `HF_CONTRASTIVE_PUSH_TIMEOUT`, else 120),
        raises `PushError` and leaves the release folder complete. Only the main process pushes.

        The release's card (`card_data`) carries `evaluation` (e.g. `evaluate_sts_suite(trainer.model)`, or a list
        of `huggingface_hub.EvalResult`) in its model-index and `.eval_results/`, beside `base_evaluation`.
        """
        if not self.is_world_process_zero():
            return None
        repo_id = repo_id or self.args.hub_model_id or os.path.basename(os.path.abspath(self.args.output_dir))
        card = self.card_data(release="merged" if merge else "adapters", model_id=repo_id, evaluation=evaluation,
                              base_evaluation=base_evaluation, base_model=base_model_id)
        folder = prepare_release(self.model, os.path.join(self.args.output_dir, RELEASE_FOLDER), merge=merge,
                                 base_model_id=base_model_id, card=card, classifier=self.classification_head())
        given = dict(commit_message=commit_message, revision=revision, merge=merge, base_model_id=base_model_id,
                     private=private, create_pr=create_pr, timeout=timeout)
        return push_release(folder, repo_id, token=token or self.args.hub_token,
                            private=bool(self.args.hub_private_repo) if private is None else private,
                            revision=revision or self.args.hub_revision, create_pr=create_pr,
                            commit_message=commit_message or "End of training",
                            retry_hint=push_call(repo_id, given, evaluation, base_evaluation), timeout=timeout)


def push_call(repo_id: str, given: dict[str, Any], evaluation: Any = None, base_evaluation: Any = None) -> str:
    """The `trainer.push_to_hub(...)` call with every argument of `given` that differs from its default (and the
    evaluations, by the names they were passed as): what a failed push says to run again.

    >>> push_call("user/m", dict(merge=False, private=None, create_pr=True), evaluation=[])
    "trainer.push_to_hub(repo_id='user/m', merge=False, create_pr=True, evaluation=evaluation)"
    """
    defaults = inspect.signature(ReleaseMixin.push_to_hub).parameters
    shown = [f"repo_id={repo_id!r}"] + [f"{name}={value!r}" for name, value in given.items()
                                        if value != defaults[name].default]
    shown += [f"{name}={name}" for name, value in (("evaluation", evaluation), ("base_evaluation", base_evaluation))
              if value is not None]
    return f"trainer.push_to_hub({', '.join(shown)})"
