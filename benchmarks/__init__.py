"""Benchmarks: `python -m benchmarks` runs the suite (every objective beside its peer, the GradCache memory sweep and
the achieved FLOP/s); the other modules are focused studies (`sft_forgetting`, `declutr`, `sts_suite`)."""
