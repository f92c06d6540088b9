"""`Study`: what the studies share (`python -m benchmarks`, `benchmarks.compare_methods`,
`benchmarks.semi_supervised`, `benchmarks.sft_forgetting`).

A study runs each piece of its work in a fresh process (`run_in_fresh_process`: `python -m MODULE --worker ...`,
answered by a `RESULT {json}` line) and passes its settings on to that process as command-line flags. A study that
runs for hours (compare_methods, semi_supervised) also stores every result with the settings it was made with in
`OUTPUT_DIR/results.json` as it arrives, and with `--resume` reuses only the stored results made with the same
settings (the others stay in the file), so that an interrupted study goes on where it stopped and never mixes runs
made differently.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import run_in_fresh_process


@dataclass(frozen=True)
class Study:
    """
    module (`str`): the study's module, run as `python -m module --worker ...` for each piece of work.
    settings (`tuple[str, ...]`): the option names a result depends on beside what its worker is asked for.
    flags (`Mapping[str, str]`): the flag of a setting whose flag is not `--name-with-dashes`.
    """

    module: str
    settings: tuple[str, ...]
    flags: Mapping[str, str] = field(default_factory=dict)

    def settings_of(self, options: argparse.Namespace) -> dict[str, Any]:
        """`{setting: value}` of `options`: stored with each result, compared on `--resume`."""
        return {name: getattr(options, name) for name in self.settings}

    def worker_arguments(self, options: argparse.Namespace) -> list[str]:
        """The settings (and `--output-dir`) as flags for a worker process, which parses them back to the same
        settings; a `None` setting is left to the worker's default, a list becomes the values of one flag."""
        arguments = ["--output-dir", options.output_dir]
        for name, value in self.settings_of(options).items():
            if value is not None:
                flag = self.flags.get(name, f"--{name.replace('_', '-')}")
                arguments += [flag, *map(str, value)] if isinstance(value, list) else [flag, str(value)]
        return arguments

    def run_worker(self, options: argparse.Namespace, *arguments: str) -> Any:
        """One piece of work in a fresh process, with the study's settings: its result."""
        return run_in_fresh_process(self.module, *arguments, *self.worker_arguments(options))

    def open_results(self, options: argparse.Namespace) -> Results:
        """The results file of `options.output_dir` (made if missing): with `--resume`, what it holds."""
        os.makedirs(options.output_dir, exist_ok=True)
        path = os.path.join(options.output_dir, "results.json")
        stored = []
        if getattr(options, "resume", False) and os.path.isfile(path):
            with open(path) as file:
                stored = json.load(file)
        return Results(path, self.settings_of(options), stored)


@dataclass
class Results:
    """A study's results file: `stored`, every result in it (`settings` made them); `reusable`, those made with
    these settings (a result stored without settings, from before they were kept, never is)."""

    path: str
    settings: dict[str, Any]
    stored: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reusable = [r for r in self.stored if r.get("settings") == self.settings]
        others = len(self.stored) - len(self.reusable)
        if others:
            print(f"{others} result(s) in {self.path} were made with other settings: kept in the file, not reused.",
                  file=sys.stderr)

    def add(self, new: Sequence[dict]) -> None:
        """Store `new` results with these settings, and write the file at once."""
        for result in new:
            result["settings"] = self.settings
        self.reusable.extend(new)
        self.stored.extend(new)
        with open(self.path, "w") as file:
            json.dump(self.stored, file, indent=1)
