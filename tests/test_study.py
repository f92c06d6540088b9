"""`benchmarks.study.Study`, the studies' harness: settings passed to a worker parse back to the same, results are
stored with their settings as they arrive, and a resumed study reuses only those made with its own."""

import argparse
import importlib
import json

import pytest

from benchmarks.study import Study

STUDY = Study("benchmarks.example", ("steps", "tasks", "threshold", "weight"), flags={"weight": "--lambda"})


def parse(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--tasks", nargs="+")
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--lambda", dest="weight", type=float, default=1.0)
    parser.add_argument("--output-dir", default="out")
    parser.add_argument("--resume", action="store_true")
    return parser.parse_args(argv)


def test_a_worker_parses_the_settings_back():
    options = parse(["--steps", "3", "--tasks", "a", "b", "--lambda", "0.5", "--output-dir", "dir"])
    arguments = STUDY.worker_arguments(options)
    assert arguments == ["--output-dir", "dir", "--steps", "3", "--tasks", "a", "b", "--lambda", "0.5"]  # None left out
    received = parse(arguments)
    assert STUDY.settings_of(received) == STUDY.settings_of(options) and received.output_dir == "dir"


def test_results_are_stored_with_their_settings_and_resumed_only_with_the_same(tmp_path, capsys):
    options = parse(["--output-dir", str(tmp_path / "run"), "--steps", "3"])
    results = STUDY.open_results(options)
    assert results.reusable == [] and (tmp_path / "run").is_dir()
    results.add([{"cell": 1}])
    stored = json.loads((tmp_path / "run" / "results.json").read_text())
    assert stored == [{"cell": 1, "settings": STUDY.settings_of(options)}]  # written as it arrives

    assert STUDY.open_results(options).reusable == []  # without --resume nothing is kept
    options.resume = True
    assert STUDY.open_results(options).reusable == stored
    options.steps = 4
    other = STUDY.open_results(options)
    assert other.reusable == [] and "1 result(s)" in capsys.readouterr().err
    other.add([{"cell": 2}])
    stored = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [(r["cell"], r["settings"]["steps"]) for r in stored] == [(1, 3), (2, 4)]  # the other run kept in the file


def test_a_result_stored_without_settings_is_never_reused(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps([{"cell": 0}]))
    options = parse(["--output-dir", str(tmp_path), "--resume"])
    assert STUDY.open_results(options).reusable == []


@pytest.mark.parametrize("name", ["benchmarks.__main__", "benchmarks.compare_methods", "benchmarks.semi_supervised",
                                  "benchmarks.sft_forgetting"])
def test_every_study_passes_its_own_settings_to_its_workers(name):
    """Each study's `STUDY` names options of its own parser, and a worker parses them back to the same."""
    module = importlib.import_module(name)
    options = module.parse([])
    received = module.parse(module.STUDY.worker_arguments(options))
    assert module.STUDY.settings_of(received) == module.STUDY.settings_of(options)
    assert received.output_dir == options.output_dir
