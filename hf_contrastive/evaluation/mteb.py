"""MTEB tasks run by mteb itself (the optional `mteb` extra), online by task name or
offline on local data, with results as `huggingface_hub.EvalResult` so that the model card never imports mteb.

Offline, a task is mteb's own task class (its metadata: Hub dataset id, revision, score range, main score) with
`load_data` overridden to read the local file — mteb's documented way to run a task on other data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import MissingExtraError

HF_TASK_TYPES = {"STS": "sentence-similarity", "Classification": "text-classification",
                 "Clustering": "text-clustering", "Retrieval": "text-retrieval", "Reranking": "text-ranking",
                 "PairClassification": "text-classification", "Summarization": "summarization"}


def _import_mteb():
    try:
        import mteb
    except ImportError:
        raise MissingExtraError("MTEB evaluation", "mteb") from None
    return mteb


def local_task(name: str, sentence1: Sequence[str], sentence2: Sequence[str], scores: Sequence[float]) -> Any:
    """mteb's STS task `name` (e.g. `STS12`, `SICK-R`) reading the given pairs instead of its Hub dataset."""
    mteb = _import_mteb()
    from datasets import Dataset, DatasetDict

    task_class = type(mteb.get_task(name))
    if task_class.metadata.type != "STS":
        raise ValueError(f"Local data is supported for STS tasks; {name!r} is a {task_class.metadata.type} task.")
    pairs = {"sentence1": list(sentence1), "sentence2": list(sentence2), "score": [float(s) for s in scores]}

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if not self.data_loaded:
            self.dataset = DatasetDict({split: Dataset.from_dict(pairs) for split in self.metadata.eval_splits})
            self.data_loaded = True

    return type(f"Local{task_class.__name__}", (task_class,), {"load_data": load_data})()


def eval_results(task_result: Any, task: Any, local: bool) -> list:
    """`EvalResult`s (main score x100, per split and subset) of one mteb `TaskResult`; the dataset revision only
    when the data came from the Hub at that revision."""
    from huggingface_hub import EvalResult

    metadata = task.metadata
    results = []
    for split, scores in task_result.scores.items():
        for score in scores:
            subset = score.get("hf_subset")
            results.append(EvalResult(
                task_type=HF_TASK_TYPES.get(metadata.type, metadata.type.lower()), task_name=f"MTEB {metadata.name}",
                dataset_type=metadata.dataset["path"], dataset_name=f"MTEB {metadata.name}",
                dataset_config=None if subset in (None, "default") else subset, dataset_split=split,
                dataset_revision=None if local else metadata.dataset.get("revision"),
                metric_type=metadata.main_score, metric_name=metadata.main_score.replace("_", " "),
                metric_value=round(100 * float(score["main_score"]), 4),
            ))
    return results


def run_mteb(model: Any, tasks: Sequence[str], data_dir: str | None = None,
             files: Mapping[str, str] | None = None) -> list:
    """Run mteb's `tasks` on `model`; with `data_dir` / `files` (as `evaluate_sts_suite`), STS tasks read local
    files and nothing is downloaded. Returns `EvalResult`s for the model card (`trainer.push_to_hub(evaluation=...)`).
    """
    mteb = _import_mteb()
    local = data_dir is not None or bool(files)
    if local:
        from .sts_suite import load_sts_task

        task_objects = []
        for name in tasks:
            data = load_sts_task(name, data_dir=data_dir, file=(files or {}).get(name))
            task_objects.append(local_task(name, data.sentence1, data.sentence2, data.score))
    else:
        task_objects = list(mteb.get_tasks(tasks=list(tasks)))
    outcome = mteb.evaluate(model, task_objects, cache=None, show_progress_bar=False)
    by_name = {task.metadata.name: task for task in task_objects}
    return [result for task_result in outcome.task_results
            for result in eval_results(task_result, by_name[task_result.task_name], local)]
