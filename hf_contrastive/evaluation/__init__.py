"""Evaluation: the STS evaluator used during training, the paper-protocol STS suite, and what a suite's data and
results need (task names and files, model-card `EvalResult`s).

- `sts`: `STSEvaluator` (training), `is_sts_dataset`; `sts_files`: reading STS files, the shipped STS-B splits;
- `tasks`: task names, local files, Hub loading; `results`: averages, tables, `EvalResult`s, `evaluation_results`;
- `sts_suite`: STS12-16, STS-B, SICK-R.
"""

from .results import SuiteResult, evaluation_results
from .sts import STSEvaluator, is_sts_dataset
from .sts_files import load_stsb, read_sts_file
from .sts_suite import (
    STS_TASKS,
    STSDataUnavailable,
    STSSuiteResult,
    STSTask,
    STSTaskData,
    STSTaskResult,
    evaluate_sts_suite,
    evaluate_sts_task,
    find_sts_task_file,
    get_sts_task,
    load_sts_suite,
    load_sts_task,
    resolve_sts_tasks,
)
from .tasks import TaskDataUnavailable

__all__ = [
    "STSDataUnavailable",
    "STSEvaluator",
    "STSSuiteResult",
    "STSTask",
    "STSTaskData",
    "STSTaskResult",
    "STS_TASKS",
    "SuiteResult",
    "TaskDataUnavailable",
    "evaluate_sts_suite",
    "evaluate_sts_task",
    "evaluation_results",
    "find_sts_task_file",
    "get_sts_task",
    "is_sts_dataset",
    "load_sts_suite",
    "load_sts_task",
    "load_stsb",
    "read_sts_file",
    "resolve_sts_tasks",
]
