"""Evaluation: the STS evaluator used during training, the paper-protocol STS suite, the SentEval transfer suite,
and what the suites share (task data, results and their model-card `EvalResult`s).

- `sts`: `STSEvaluator` (training), `is_sts_dataset`; `sts_files`: reading STS files, the shipped STS-B splits;
- `tasks`: task names, local files, Hub loading; `results`: averages, tables, `EvalResult`s, `evaluation_results`;
- `sts_suite`: STS12-16, STS-B, SICK-R; `transfer_data` and `transfer`: MR, CR, SUBJ, MPQA, TREC, SST-2, MRPC;
- `suites`: both suites by name, as the command line runs them.
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
from .suites import evaluate_suites, load_suites
from .tasks import TaskDataUnavailable
from .transfer import TransferSuiteResult, TransferTaskResult, evaluate_transfer_suite, evaluate_transfer_task
from .transfer_data import (
    TRANSFER_TASKS,
    TransferTask,
    TransferTaskData,
    load_transfer_suite,
    load_transfer_task,
    read_transfer_file,
)

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
    "TRANSFER_TASKS",
    "TransferSuiteResult",
    "TransferTask",
    "TransferTaskData",
    "TransferTaskResult",
    "evaluate_sts_suite",
    "evaluate_sts_task",
    "evaluate_suites",
    "evaluate_transfer_suite",
    "evaluate_transfer_task",
    "evaluation_results",
    "find_sts_task_file",
    "get_sts_task",
    "is_sts_dataset",
    "load_sts_suite",
    "load_sts_task",
    "load_stsb",
    "load_suites",
    "load_transfer_suite",
    "load_transfer_task",
    "read_sts_file",
    "read_transfer_file",
    "resolve_sts_tasks",
]
