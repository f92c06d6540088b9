"""Both evaluation suites by name (`"sts"`, `"transfer"`), as `hf-contrastive eval --suite sts transfer` and
`hf-contrastive push --evaluate ...` run them: every selected task's data is loaded first, so missing or bad data fails
before a model is loaded; then each model is evaluated on the loaded data."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from .results import SuiteResult
from .sts_suite import STS_TASKS, evaluate_sts_data, load_sts_suite
from .transfer import evaluate_transfer_data
from .transfer_data import TRANSFER_TASKS, load_transfer_suite

logger = logging.getLogger(__name__)

SUITES = {"sts": STS_TASKS, "transfer": TRANSFER_TASKS}


def _tasks_for(suite: str, tasks: Sequence[str] | None, suites: Sequence[str]) -> Sequence[str] | None:
    """The names in `tasks` that belong to `suite` (all of them when it is the only suite selected: its loader names
    an unknown task); `None` (the whole suite) without `tasks`."""
    if tasks is None or len(suites) == 1:
        return tasks
    unknown = [name for name in tasks if not any(task.matches(name) for s in suites for task in SUITES[s])]
    if unknown:
        known = "; ".join(f"{s}: {', '.join(task.name for task in SUITES[s])}" for s in suites)
        raise ValueError(f"Unknown task(s) {unknown}; the known tasks are {known}.")
    return [name for name in tasks if any(task.matches(name) for task in SUITES[suite])]


def load_suites(suites: Sequence[str], tasks: Sequence[str] | None = None, sts_dir: str | None = None,
                transfer_dir: str | None = None) -> dict[str, tuple]:
    """`{suite: its tasks' data}` for each of `suites` (`"sts"`, `"transfer"`), in that order.

    Args:
        suites (`list[str]`): the suites.
        tasks (`list[str]`, *optional*): task names of the selected suites (each suite must keep one); all by default.
        sts_dir, transfer_dir (`str`, *optional*): the folders of local files (see `evaluate_sts_suite`,
            `evaluate_transfer_suite`); the STS suite loads from the Hub without one, the transfer suite needs it.
    """
    unknown = [suite for suite in suites if suite not in SUITES]
    if unknown or not suites:
        raise ValueError(f"Unknown or no suite(s) {unknown}; choose among {', '.join(SUITES)}.")
    loaders = {"sts": lambda names: load_sts_suite(names, data_dir=sts_dir),
               "transfer": lambda names: load_transfer_suite(names, data_dir=transfer_dir)}
    return {suite: loaders[suite](_tasks_for(suite, tasks, suites)) for suite in dict.fromkeys(suites)}


def evaluate_suites(model: Any, data: Mapping[str, tuple], batch_size: int = 64, classifier: Any = None,
                    seed: int = 0, max_train_rows: int | None = None) -> list[SuiteResult]:
    """Each suite's result on the data of `load_suites`; `model` is a SentenceTransformer or its path or Hub id.
    `classifier`, `seed` and `max_train_rows` apply to the transfer suite (see `evaluate_transfer_suite`)."""
    if isinstance(model, str):
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model)
    run = {"sts": lambda tasks: evaluate_sts_data(model, tasks, batch_size),
           "transfer": lambda tasks: evaluate_transfer_data(model, tasks, batch_size, classifier, seed,
                                                            max_train_rows)}
    return [run[suite](tasks) for suite, tasks in data.items()]


def evaluate_with_base(model: Any, base_model: str | None, data: Mapping[str, tuple],
                       **options: Any) -> tuple[list[SuiteResult], list[SuiteResult] | None]:
    """`evaluate_suites` of `model` and of `base_model` (a path or Hub id) on the same data, for a model card's
    `evaluation` and `base_evaluation`; `None` for the base when there is none or it cannot be loaded (offline
    without a cached copy, a private repository: logged as a warning, the release keeps its own scores)."""
    results = evaluate_suites(model, data, **options)
    if not base_model:
        return results, None
    try:
        from sentence_transformers import SentenceTransformer

        base = SentenceTransformer(base_model)
    except (OSError, ValueError) as error:  # not found, not reachable offline, not a valid id
        logger.warning(f"The base model {base_model} could not be loaded ({error}); only the model's own scores are "
                       "kept.")
        return results, None
    return results, evaluate_suites(base, data, **options)
