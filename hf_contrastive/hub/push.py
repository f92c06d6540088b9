"""A release is a local folder written in full before anything is uploaded, then pushed to the Hub in one commit.

`prepare_release` writes the model as a standalone SentenceTransformer (LoRA adapters merged into the weights) or,
with `merge=False`, as adapters whose `adapter_config.json` names the base model's Hub id; `push_release` creates the
repo and uploads the folder in a single commit; `release_card` re-targets the card of the training run (saved beside
the model) at the release. A failed upload leaves the folder complete; pushing again uploads only what the Hub does
not have yet. No token is ever written into the folder.

The Hub API calls of a push (repo creation, preupload, LFS batch, commit) have a time limit (`timeout`, default
`HF_CONTRASTIVE_PUSH_TIMEOUT` seconds, else 120) on each connect, read and write: huggingface_hub itself sets none on
them (a Hub that never answers a commit would hang the push forever). It bounds a stalled connection, not a slow but
healthy upload; Xet transfers (huggingface_hub's default for large files when `hf_xet` is installed) run in Xet's own
client and keep its limits. The limit is set on huggingface_hub's shared HTTP client for the duration of the push, so
other Hub calls of the process in that time (e.g. a concurrent checkpoint push) get it too. A request that times out,
like any other failure, raises `PushError`; huggingface_hub retries the preupload, LFS and verify calls on 5xx answers
and timeouts (5 times, with backoff) before giving up, but not the commit itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..modeling.classifier import CLASSIFIER_FOLDER
from ..modeling.lora import has_lora, merged_copy, saving_adapters_with_peft
from .card import CARD_DATA_FILE, card_from_json, write_card
from .card_data import CardData, keep_local_paths_private

if TYPE_CHECKING:
    from huggingface_hub import HfApi

RELEASE_FOLDER = "release"
ADAPTER_CONFIG = "adapter_config.json"
PUSH_TIMEOUT_ENV = "HF_CONTRASTIVE_PUSH_TIMEOUT"
DEFAULT_PUSH_TIMEOUT = 120.0


class PushError(RuntimeError):
    """An upload to the Hub failed; the message says what to retry."""


def is_local_path(name: str | None) -> bool:
    """Whether a model name is a local path (absolute, existing or starting with "."), which no one else can resolve:
    an adapter-only release must name its base model by Hub id instead."""
    return bool(name) and (os.path.isabs(name) or os.path.exists(name) or name.startswith("."))


def _adapter_card_note(base_model_id: str) -> str:
    return (f"> **LoRA adapters.** This repository holds LoRA adapters (`adapter_model.safetensors`) for "
            f"[`{base_model_id}`](https://huggingface.co/{base_model_id}). Loading it needs peft "
            "(`pip install peft`): `SentenceTransformer` downloads the base model and applies the adapters.\n\n")


def _note_adapters_in_card(folder: str, base_model_id: str) -> None:
    """Put the adapter note at the top of the card's body (after its YAML metadata)."""
    path = os.path.join(folder, "README.md")
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as file:
        card = file.read()
    head, body = "", card
    if card.startswith("---\n") and "\n---\n" in card[4:]:
        end = card.index("\n---\n", 4) + len("\n---\n")
        head, body = card[:end], card[end:]
    with open(path, "w", encoding="utf-8") as file:
        file.write(f"{head}\n{_adapter_card_note(base_model_id)}{body.lstrip()}")


def _point_adapters_at(folder: str, base_model_id: str | None) -> str:
    """Set `base_model_name_or_path` in the saved `adapter_config.json` to a Hub id (never a local path)."""
    path = os.path.join(folder, ADAPTER_CONFIG)
    with open(path, encoding="utf-8") as file:
        config = json.load(file)
    recorded = config.get("base_model_name_or_path")
    base_model_id = base_model_id or recorded
    if not base_model_id or is_local_path(base_model_id):
        raise ValueError(f"An adapter-only release must name its base model by Hub id, but the adapters were trained "
                         f"on {recorded!r}: pass `base_model_id='org/name'` (or release merged, `merge=True`).")
    config["base_model_name_or_path"] = base_model_id
    with open(path, "w", encoding="utf-8") as file:
        json.dump(config, file, indent=2)
    return base_model_id


def release_card(model_dir: str, repo_id: str, *, adapter_only: bool = False,
                 base_model: str | None = None) -> CardData | None:
    """The card of the training run saved in `model_dir` (its `card_data.json`), re-targeted at the release to
    `repo_id`: its kind (`adapters` for an adapter-only release of a LoRA model, else `merged`), its id and name, and
    `base_model` when given. `None` when `model_dir` was not saved by hf_contrastive (it keeps sentence-transformers'
    card)."""
    path = os.path.join(model_dir, CARD_DATA_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as file:
        card = card_from_json(file.read())
    card.release = "adapters" if adapter_only and card.lora else "merged"
    card.model_id = card.model_name = repo_id
    card.base_model = base_model or card.base_model
    return card


def prepare_release(model: Any, folder: str, *, merge: bool = True, base_model_id: str | None = None,
                    card: CardData | None = None, classifier: Any = None) -> str:
    """Write a complete release of `model` (a SentenceTransformer) to `folder`, replacing an earlier release there.

    Args:
        model: the trained SentenceTransformer (with or without LoRA adapters).
        folder: where the release goes (written beside as `folder.tmp`, then moved into place, so `folder` is never
            half-written).
        merge: with LoRA adapters, `True` merges them into the weights (a standalone model, no peft needed to load);
            `False` releases the adapters only, with `adapter_config.json` naming `base_model_id`.
        base_model_id: the Hub id of the base model, required for an adapter-only release of a model trained from a
            local path.
        card: this library's model card for the release (`CardData`, with its `release` kind set); `None` keeps
            sentence-transformers' card (with a note on the adapters of an adapter-only release).
        classifier: a classification head (`ClassificationHead`) to release in `classifier/`, or `None`.

    Returns:
        `folder`.
    """
    staging = folder.rstrip("/\\") + ".tmp"
    shutil.rmtree(staging, ignore_errors=True)
    adapters = has_lora(model)
    keep_local_paths_private(model)
    try:
        if adapters and merge:
            merged_copy(model).save(staging, create_model_card=card is None)
        else:
            with saving_adapters_with_peft(model):
                model.save(staging, create_model_card=card is None)
        base_model_id = _point_adapters_at(staging, base_model_id) if adapters and not merge else None
        if classifier is not None:
            classifier.save_pretrained(os.path.join(staging, CLASSIFIER_FOLDER))
        if card is not None:
            write_card(staging, card)
        elif base_model_id is not None:
            _note_adapters_in_card(staging, base_model_id)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # an earlier release in `folder` stays as it was
        raise
    previous = folder.rstrip("/\\") + ".old"
    shutil.rmtree(previous, ignore_errors=True)
    if os.path.exists(folder):
        os.replace(folder, previous)  # the earlier release moves aside whole; it is removed once the new one is in
    os.replace(staging, folder)
    shutil.rmtree(previous, ignore_errors=True)
    return folder


def push_timeout(timeout: float | None = None) -> float:
    """`timeout`, else `HF_CONTRASTIVE_PUSH_TIMEOUT` (seconds), else 120."""
    if timeout is None:
        value = os.environ.get(PUSH_TIMEOUT_ENV) or DEFAULT_PUSH_TIMEOUT
        try:
            timeout = float(value)
        except ValueError:
            raise ValueError(f"{PUSH_TIMEOUT_ENV} must be a number of seconds, got {value!r}.") from None
    if not timeout > 0:
        raise ValueError(f"The push timeout must be a number of seconds > 0, got {timeout!r}.")
    return float(timeout)


@contextmanager
def _hub_requests_timeout(seconds: float) -> Iterator[None]:
    """huggingface_hub's shared HTTP client waits at most `seconds` to connect, send, or for each part of an answer
    (its requests that set no timeout of their own: the API calls of an upload), until the block ends."""
    from huggingface_hub import get_session

    session = get_session()
    previous = session.timeout
    session.timeout = seconds
    try:
        yield
    finally:
        session.timeout = previous


def push_release(folder: str, repo_id: str, *, token: str | None = None, private: bool = False,
                 revision: str | None = None, create_pr: bool = False, commit_message: str = "Release",
                 retry_hint: str | None = None, timeout: float | None = None, api: HfApi | None = None) -> Any:
    """Create `repo_id` (if needed) and upload `folder` in one commit, to `revision` (a branch, created if missing)
    or as a pull request. Returns huggingface_hub's `CommitInfo` (`commit_url`, `pr_url`).

    The push goes through `api`, a `huggingface_hub.HfApi` with its own `endpoint` and `token` (e.g. a private Hub),
    or, by default, `HfApi(token=token)` (the Hub of `HF_ENDPOINT`; the token of `token`, else `HF_TOKEN` or the
    login). An `api` carries its token: passing `token` too is a `ValueError` rather than one of the two being
    ignored.

    Each Hub request may wait `timeout` seconds (default `HF_CONTRASTIVE_PUSH_TIMEOUT`, else 120) for the server, with
    a given `api` too. Raises `PushError` naming the folder and what to run again when the Hub call fails or times
    out; the folder is untouched. A commit that timed out may still land on the Hub: pushing again then finds nothing
    new and makes no second commit.
    """
    if api is not None and token is not None:
        raise ValueError("Pass the token either in the HfApi (`HfApi(token=...)`) or as `token=`, not both: "
                         "push_release would have to ignore one of them.")
    if not os.path.isfile(os.path.join(folder, "modules.json")):
        raise ValueError(f"{folder} is not a SentenceTransformer release (no modules.json).")
    seconds = push_timeout(timeout)
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    try:
        with _hub_requests_timeout(seconds):
            repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
            if revision is not None:
                api.create_branch(repo_id, branch=revision, exist_ok=True)
            return api.upload_folder(repo_id=repo_id, folder_path=folder, revision=revision, create_pr=create_pr,
                                     commit_message=commit_message)
    except Exception as error:  # network, HTTP, timeout and Hub errors alike: the local release stays as it is
        again = retry_hint or f"push_release({folder!r}, {repo_id!r})"
        chain = _causes(error)  # huggingface_hub wraps e.g. a failed LFS upload's HTTP error in a RuntimeError
        shown = [chain[0], chain[-1]] if len(chain) > 1 else chain
        reason = "; caused by ".join(f"{type(e).__name__}: {_without_queries(str(e).strip())}" for e in shown)
        if any("Timeout" in type(e).__name__ for e in chain):
            reason += f" (no answer from the Hub within {seconds:g} s; `timeout=` or {PUSH_TIMEOUT_ENV} sets the limit)"
        raise PushError(f"Uploading the release in {folder} to {repo_id} failed: {reason}. The release folder is "
                        f"complete and unchanged; run `{again}` again to retry (files already on the Hub are not "
                        "uploaded twice).") from error


def _without_queries(text: str) -> str:
    """`text` with the query string of every URL cut (an LFS upload URL is pre-signed: its query is a credential)."""
    return re.sub(r"(https?://[^\s'\"?]+)\?[^\s'\"]*", r"\1?...", text)


def _causes(error: BaseException) -> list[BaseException]:
    """`error` and the exceptions it was raised from, outermost first."""
    chain = [error]
    while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None and cause not in chain:
        chain.append(cause)
    return chain
