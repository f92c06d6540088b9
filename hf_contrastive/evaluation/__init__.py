"""Evaluation: the STS evaluator (training and after) and its metrics."""

from .sts import STSEvaluator, is_sts_dataset, load_stsb, read_sts_file

__all__ = ["STSEvaluator", "is_sts_dataset", "load_stsb", "read_sts_file"]
